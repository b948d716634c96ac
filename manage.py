#!/usr/bin/env python
"""Django's command-line utility; starts or attaches to the embedded services first."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from config import embedded

    try:
        embedded.activate()
    except embedded.EmbeddedServiceError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(2) from None

    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
