"""ASGI entry point."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from config import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
embedded.activate()  # a no-op when MONGODB_URI and ETH_RPC_URL are set
application = get_asgi_application()
