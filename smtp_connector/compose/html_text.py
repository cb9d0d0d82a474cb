"""Plain-text alternatives for HTML-only templates.

Spam filters penalise HTML without a text part and some users read mail as text, so every
HTML-only message gets one. html2text keeps links next to their text as URLs, which is what a
person needs to follow a verification link from a text-only client.

Converting costs about half a millisecond, far more than rendering. A verification mail differs
from the previous one only in its payload values, so the HTML is converted with those values
replaced by sentinels, the result is cached, and the values are put back: one conversion per
template shape instead of one per message.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from markupsafe import escape

from ..lazy import LazyPattern

_BLANK_RUNS = LazyPattern(r"\n{3,}")
_HIDDEN = LazyPattern(
    r"<(div|span|p)\b[^>]*display\s*:\s*none[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_SENTINEL = "zqxsentinel{}zqx"
_MIN_VALUE_LEN = 3


def _convert(html: str) -> str:
    import html2text  # loaded for the first HTML-only template (with html.parser, ~8 ms)

    converter = html2text.HTML2Text()
    converter.body_width = 0  # never wrap: codes and links must stay on one line
    converter.ignore_images = True
    converter.ignore_emphasis = True
    converter.inline_links = True
    converter.protect_links = False
    converter.wrap_links = False
    converter.use_automatic_links = True
    converter.unicode_snob = True
    text = converter.handle(_HIDDEN.sub("", html)).replace("\u00a0", " ")
    lines = [line.rstrip() for line in text.splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip() + "\n"


@functools.lru_cache(maxsize=256)
def _convert_cached(html: str) -> str:
    return _convert(html)


def html_to_text(html: str, values: Iterable[str] = ()) -> str:
    """Readable text for `html`; `values` are the payload strings that vary between messages."""
    shaped = html
    swaps: list[tuple[str, str]] = []
    for value in sorted({v for v in values if len(v) >= _MIN_VALUE_LEN}, key=len, reverse=True):
        escaped = str(escape(value))
        if escaped in shaped:
            sentinel = _SENTINEL.format(len(swaps))
            shaped = shaped.replace(escaped, sentinel)
            swaps.append((sentinel, value))
    text = _convert_cached(shaped)
    for sentinel, value in swaps:
        text = text.replace(sentinel, value)
    return text
