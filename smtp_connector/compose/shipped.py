"""The shipped default templates: one HTML+text layout, one strings file per locale.

`layout.toml` holds what is the same in every locale (the default text direction, the choice
between an invitation's sentence variants); each `locales/<locale>.toml` holds the words.

A send reads them compiled, from `templates/compiled/` (no `tomllib`; shipped_source.py writes
it from the TOML files and says why): the index once, a locale's strings when a send first needs
that locale. Each (usage type, locale)
default is composed once, at first use, by writing the locale's strings
into the layouts at their `[[key]]` markers. The result reads as an `EmailTemplate` (a
`PlainTemplate`: a send need not load pydantic for it), so the defaults go through exactly the
same rendering and escaping path as a user's own templates.
"""

from __future__ import annotations

import functools
import json
import re
from typing import TYPE_CHECKING, Any

from ..config.records import PlainTemplate
from ..resources import read_text

if TYPE_CHECKING:
    from ..config.views import TemplateView

COMPILED = "templates/compiled"  # written by shipped_source.py from the TOML files
INDEX = "index.json"

_MARKER = re.compile(r"\[\[(\w+)\]\]")
# Computed once per template: `app` (application name or a localised fallback), `expires`.
_PRELUDE = (
    "{%- set app = (application.name if application and application.name else "
    "(application if application is string and application else FALLBACK)) -%}"
    "{%- set expires = expiresInMinutes or expires_in_minutes or 10 -%}"
)


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, Any]:
    """templates/compiled/index.json: {"layout": layout.toml's tables, "locales": names}."""
    data: dict[str, Any] = json.loads(read_text(COMPILED, INDEX))
    return data


@functools.lru_cache(maxsize=1)
def shipped_locales() -> tuple[str, ...]:
    """Locales with shipped strings, e.g. ("de", "en", "es", …)."""
    return tuple(sorted(_index()["locales"]))


@functools.lru_cache(maxsize=1)
def _layouts() -> tuple[str, str]:
    return read_text("templates", "layout.html"), read_text("templates", "layout.txt")


@functools.cache  # at most one entry per shipped locale
def _strings(locale: str) -> dict[str, dict[str, str]]:
    """templates/locales/<locale>.toml's tables (KeyError for a locale without strings)."""
    if locale not in shipped_locales():
        raise KeyError(locale)
    strings: dict[str, dict[str, str]] = json.loads(read_text(COMPILED, f"{locale}.json"))
    return strings


def _layout_strings() -> dict[str, dict[str, str]]:
    """templates/layout.toml: defaults (`dir`) and the choice between sentence variants."""
    layout: dict[str, dict[str, str]] = _index()["layout"]
    return layout


def locale_strings(usage_type: str, locale: str) -> dict[str, str]:
    """Every string the layouts need for (usage type, shipped locale), the locale's winning."""
    shared, strings = _layout_strings(), _strings(locale)
    return {
        **shared.get("common", {}),
        **strings["common"],
        **shared.get(usage_type, {}),
        **strings[usage_type],
    }


@functools.lru_cache(maxsize=1)
def shipped_usage_types() -> tuple[str, ...]:
    return tuple(key for key in _strings("en") if key != "common")


@functools.lru_cache(maxsize=512)
def default_template(usage_type: str, locale: str) -> TemplateView | None:
    """The shipped template for an exact (usage type, shipped locale), or None if there is none."""
    if locale not in shipped_locales():
        return None
    strings = _strings(locale)
    if usage_type not in strings:
        return None
    merged = locale_strings(usage_type, locale)
    html_layout, text_layout = _layouts()
    prelude = _PRELUDE.replace("FALLBACK", _jinja_literal(merged["app_fallback"]))
    template = PlainTemplate(
        usage_type=usage_type,
        locale=locale,
        subject=prelude + merged["subject"],
        html_content=prelude + _fill(html_layout, merged),
        text_content=prelude + _fill(text_layout, merged),
    )
    # A `TemplateView`, as `EmailTemplate` is (tests/compose/test_shipped.py holds each
    # default equal to its validated model).
    return template


def _fill(layout: str, strings: dict[str, str]) -> str:
    """Write the strings in at the `[[key]]` markers; strings may hold markers of their own
    (layout.toml's variant choices), so repeat until none is left."""
    for _ in range(4):
        if not _MARKER.search(layout):
            return layout
        layout = _MARKER.sub(lambda m: strings[m.group(1)], layout)
    raise ValueError(f"[[key]] markers nested too deep in the shipped strings: {layout[:80]!r}")


def _jinja_literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
