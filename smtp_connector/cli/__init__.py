"""Command-line interface: one module per command group, each registering on `app.main`.
Imports any stage of the library; nothing in the library imports the CLI."""

from . import (  # noqa: F401  (importing registers the commands)
    db_cmd,
    delivery_cmd,
    dkim_cmd,
    keys_cmd,
    presets_cmd,
    render_cmd,
    secrets_cmd,
    serve_cmd,
    templates_cmd,
    worker_cmd,
)
from .app import main

__all__ = ["main"]
