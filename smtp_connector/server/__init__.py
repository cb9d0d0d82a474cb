"""The admin HTTP API (extra `server`): `create_app(settings)` builds it, `serve` runs it.
Imports the store's domain layer and the library's public names; nothing imports the server
but the CLI."""

from .app import create_app
from .settings import Settings

__all__ = ["Settings", "create_app"]
