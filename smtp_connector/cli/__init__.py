"""Command-line interface; each module registers its subcommands on `app.main`."""

from . import delivery_cmd, dkim_cmd, presets_cmd, render_cmd  # noqa: F401  (registers commands)
from .app import main

__all__ = ["main"]
