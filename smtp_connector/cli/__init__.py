"""Command-line interface: one module per command group, each registering on `app.main`.
Imports any stage of the library; nothing in the library imports the CLI."""

from . import delivery_cmd, dkim_cmd, presets_cmd, render_cmd  # noqa: F401  (registers commands)
from .app import main

__all__ = ["main"]
