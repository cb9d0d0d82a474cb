"""A template's sources as Jinja reads them: `<<code>>` shorthand made `{{ code }}`, and subject,
text and HTML joined into one source (the HTML in an autoescape block) by a separator no
template or value can contain, so a message costs one Jinja render (compose/rendering.py)."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config.views import TemplateView


_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_SHORTHAND = re.compile(rf"<<\s*({_NAME})\s*>>")
_SHORTHAND_ESCAPED = re.compile(rf"&lt;&lt;\s*({_NAME})\s*&gt;&gt;")
# Splits the combined output; random so that no template or value can contain it by accident.
SEPARATOR = f"\x00{secrets.token_hex(12)}\x00"


def shorthand_to_jinja(source: str) -> str:
    """`<<code>>` (also HTML-escaped `&lt;&lt;code&gt;&gt;` from rich editors) → `{{ code }}`."""
    source = _SHORTHAND.sub(r"{{ \1 }}", source)
    return _SHORTHAND_ESCAPED.sub(r"{{ \1 }}", source)


def combined_source(template: TemplateView) -> str:
    """Subject, text and HTML as one template source (the HTML in an autoescape block)."""
    html = template.html_source
    sources = [
        template.subject,
        template.text_source or "",
        "{% autoescape true %}" + html + "{% endautoescape %}" if html else "",
    ]
    return SEPARATOR.join(shorthand_to_jinja(s) for s in sources)


def part_source(template: TemplateView, part: str) -> str:
    if part == "subject":
        return template.subject
    source = template.text_source if part == "text" else template.html_source
    return source or ""
