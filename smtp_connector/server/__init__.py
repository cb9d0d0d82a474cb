"""The admin HTTP API (extra `server`): `create_app(settings)` builds it, `serve` runs it."""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
