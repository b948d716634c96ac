"""The NFV and Licences repositories' stored objects (MongoDB through django-mongodb-backend)."""

from __future__ import annotations
