"""Command-line interface; each module registers its subcommands on `app.main`."""

from . import (  # noqa: F401  (importing registers the commands)
    db_cmd,
    delivery_cmd,
    dkim_cmd,
    keys_cmd,
    presets_cmd,
    render_cmd,
    secrets_cmd,
    serve_cmd,
)
from .app import main

__all__ = ["main"]
