"""The shipped strings' source (TOML, written by people) → their compiled form (JSON, read by a
send).

`templates/layout.toml` and `templates/locales/*.toml` are what translators edit; a process
that sends its first mail reads `templates/strings.json` instead, because importing `tomllib`
and parsing two TOML files was 10 of the 1,161 million instructions of a cold start (process
start → the first message accepted; benchmarks/cold_instructions.py), and `json` is loaded
anyway. After editing a TOML file, run

    python -m smtp_connector.compose.shipped_source

to write the JSON again; tests/compose/test_shipped.py fails while the two disagree.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from ..resources import list_files, read_text

COMPILED = "strings.json"  # in templates/


def compiled_strings() -> dict[str, Any]:
    """What strings.json must hold: the layout's table and every locale's, parsed from TOML."""
    locales = [name.removesuffix(".toml") for name in list_files("templates/locales", ".toml")]
    return {
        "layout": tomllib.loads(read_text("templates", "layout.toml")),
        "locales": {
            locale: tomllib.loads(read_text("templates/locales", f"{locale}.toml"))
            for locale in locales
        },
    }


def render_compiled() -> str:
    """The JSON text, stable (sorted keys) so a regeneration only differs where a TOML did."""
    return json.dumps(compiled_strings(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main() -> None:
    """Write templates/strings.json in the checkout this package was imported from."""
    target = Path(__file__).resolve().parents[2] / "templates" / COMPILED
    target.write_text(render_compiled(), encoding="utf-8")
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
