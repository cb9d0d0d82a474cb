"""`json.dumps` for the plain values of every queued send, written without the encoder.

Each enqueue stores its definitions and payload as JSON text (sqlite_outbox.py). `json.dumps`
builds a C encoder per call behind two Python layers: about 16,000 instructions for
`{"code": "123456"}`, twice a send (issue 26 §1); this writes it in about half that. (The
202's answer stays json's: for its three keys the Python walk cost more than the encoder.)
The usual values are plain: dicts with string keys, lists and tuples of strings, None,
booleans and ints, a few levels deep, every string printable ASCII without `"` or `\\`.
JSON writes such a string as itself between quotes, whether or not it escapes non-ASCII
text, so `plain_json` joins the pieces itself. Anything else (a float, a string with an
escape, a deep or circular value, a subclass) is left to `json` (None), so its output and its
errors stay json's own; tests/queue/test_plain_json.py holds both equal (hypothesis).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 6  # deeper (or circular) values are json's, with its errors


def _plain(text: str) -> bool:
    """Printable ASCII (space to `~`) without the two characters JSON escapes there."""
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def plain_json(value: Any, item: str = ", ", key: str = ": ", depth: int = 0) -> str | None:
    """`value` as `json.dumps(value, separators=(item, key))` writes it (either
    `ensure_ascii`), or None when it is not plain (see the module doc)."""
    kind = type(value)
    if kind is str:
        return f'"{value}"' if _plain(value) else None
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if depth >= MAX_DEPTH:
        return None
    parts: list[str] = []
    if kind is dict:
        for name, child in value.items():
            text = plain_json(child, item, key, depth + 1)
            if text is None or type(name) is not str or not _plain(name):
                return None
            parts.append(f'"{name}"{key}{text}')
        return "{" + item.join(parts) + "}"
    if kind is list or kind is tuple:
        for child in value:
            text = plain_json(child, item, key, depth + 1)
            if text is None:
                return None
            parts.append(text)
        return "[" + item.join(parts) + "]"
    return None


def dumps(value: Any) -> str:
    """`json.dumps(value)`, the same text and errors."""
    text = plain_json(value)
    return text if text is not None else json.dumps(value)
