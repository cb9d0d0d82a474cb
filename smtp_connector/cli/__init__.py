"""Command-line interface; each module registers its subcommands on `app.main`."""

from . import dkim_cmd  # noqa: F401, I001  (registers dkim-keygen)
from . import render_cmd  # noqa: F401  (registers commands)
from .app import main

__all__ = ["main"]
