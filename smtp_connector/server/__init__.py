"""The admin HTTP API (extra `server`): `create_app(settings)` builds it, `serve` runs it.
Imports the store's domain layer and the library's public names; nothing imports the server
but the CLI."""

from . import deferred

deferred.prepare()  # before `fastapi` is first imported: see deferred.py

from .app import create_app  # noqa: E402
from .settings import Settings  # noqa: E402

__all__ = ["Settings", "create_app"]
