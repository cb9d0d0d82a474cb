"""Command-line interface: one module per command group, each registering on `app.main`.
Imports any stage of the library; nothing in the library imports the CLI.

A command's module is imported when the command runs (`CliGroup.lazy_commands`): starting
`serve` does not load what `send`, `sink` or `dkim-keygen` need (issue 26 §5).
"""

from .app import main

_MODULES = {
    "db": "db_cmd",
    "demo": "delivery_cmd",
    "dkim-keygen": "dkim_cmd",
    "init": "presets_cmd",
    "keys": "keys_cmd",
    "presets": "presets_cmd",
    "render": "render_cmd",
    "secrets": "secrets_cmd",
    "send": "delivery_cmd",
    "serve": "serve_cmd",
    "sink": "delivery_cmd",
    "templates": "templates_cmd",
    "test": "delivery_cmd",
    "verify": "delivery_cmd",
    "worker": "worker_cmd",
}
main.lazy_commands = {name: f"{__name__}.{module}" for name, module in _MODULES.items()}

__all__ = ["main"]
