"""The shipped strings' source (TOML, written by people) → their compiled form (JSON, read by a
send).

`templates/layout.toml` and `templates/locales/*.toml` are what translators edit; a process
that sends its first mail reads `templates/compiled/` instead, because importing `tomllib`
and parsing two TOML files was 10 of the 1,161 million instructions of a cold start (process
start → the first message accepted; benchmarks/cold_instructions.py), and `json` is loaded
anyway. `index.json` holds the layout's table and the locales' names, `<locale>.json` one
locale's tables, so a send parses the locales it uses (one file of all 16 was 3.4 million
instructions of reading and parsing for the one a first mail needs). After editing a TOML
file, run

    python -m smtp_connector.compose.shipped_source

to write the JSON again; tests/compose/test_shipped.py fails while the two disagree.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from ..resources import list_files, read_text
from .shipped import COMPILED, INDEX


def compiled_strings() -> dict[str, Any]:
    """The layout's table and every locale's, parsed from TOML."""
    locales = [name.removesuffix(".toml") for name in list_files("templates/locales", ".toml")]
    return {
        "layout": tomllib.loads(read_text("templates", "layout.toml")),
        "locales": {
            locale: tomllib.loads(read_text("templates/locales", f"{locale}.toml"))
            for locale in locales
        },
    }


def render_compiled() -> dict[str, str]:
    """File name → JSON text of templates/compiled/: `index.json` ({"layout": tables,
    "locales": sorted names}) and one `<locale>.json` each; stable (sorted keys), so a
    regeneration only differs where a TOML did."""
    strings = compiled_strings()
    index = {"layout": strings["layout"], "locales": sorted(strings["locales"])}
    files = {INDEX: index} | {f"{name}.json": t for name, t in strings["locales"].items()}
    return {name: _json(data) for name, data in files.items()}


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main() -> None:
    """Write templates/compiled/ in the checkout this package was imported from (a locale
    whose TOML is gone loses its JSON too)."""
    target = Path(__file__).resolve().parents[2] / COMPILED
    target.mkdir(exist_ok=True)
    files = render_compiled()
    for stale in target.glob("*.json"):
        if stale.name not in files:
            stale.unlink()
    for name, text in files.items():
        (target / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files to {target}")


if __name__ == "__main__":
    main()
