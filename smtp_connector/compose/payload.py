"""The payload as templates see it: checked (a mapping, its size) and normalised (the code as
text, the link only when it is a safe absolute http(s) URL, `expiresInMinutes` aliases).

Payloads come from the auth system but carry what users typed (names, links): each is measured
before rendering, cheaply for the usual few short strings, exactly (as JSON) otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ..errors import Cause, ConnectorError, ErrorCode

_LINK_JUNK = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]{0,31}$")


def require_mapping(payload: object) -> None:
    """A payload is a mapping; anything else is the caller's template_error, not a crash."""
    if type(payload) is not dict and not isinstance(payload, Mapping):  # a dict: no ABC check
        raise ConnectorError(
            ErrorCode.TEMPLATE_ERROR, "payload must be a mapping such as {'code': '123456'}."
        )


def build_context(payload: Mapping[str, Any], max_bytes: int) -> dict[str, Any]:
    """The Jinja context: the payload as given plus snake/camel aliases of `expiresInMinutes`."""
    if type(payload) is not dict:  # a dict (what `render` hands over) needs no call to check
        require_mapping(payload)
    return normalise_context(dict(payload), max_bytes)


def normalise_context(context: dict[str, Any], max_bytes: int, rough: int = -1) -> dict[str, Any]:
    """`build_context` on a dict of the caller's own, in place: a composer that has just
    copied the payload into its context (`Composer._context`) needs no second copy. `rough`:
    the payload's `rough_size`, when the caller has walked it already (the shape cache's walk
    reads every value anyway)."""
    if rough < 0:
        rough = _mapping_size(context, 0)  # `_rough_size` of a dict, one call less
    if rough > max_bytes // 4:  # else clearly small: no exact (JSON) measurement on the hot path
        _check_size(context, max_bytes)
    code = context.get("code")
    if code is not None and type(code) is not str:  # a str is its own text: no call
        context["code"] = _code_text(code)
    if context.get("link"):
        context["link"] = safe_link(context["link"])
    if "expires_in_minutes" in context and "expiresInMinutes" not in context:
        context["expiresInMinutes"] = context["expires_in_minutes"]
    return context


def safe_link(link: Any) -> str:
    """`payload.link` as given (outer whitespace trimmed) when it is an absolute http(s) URL.

    The link goes into an `href`, so a `javascript:` or `data:` URL would run script or show
    forged content when clicked; `mailto:` and relative links make no sense as a verification
    or invitation link either: all are a `template_error`. So is whitespace or a control
    character inside (browsers drop them, so `java\tscript:` still runs). The message names the
    scheme only: the rest of a link is often a token.
    """
    text = str(link).strip()
    scheme, colon, rest = text.partition(":")
    if _LINK_JUNK.search(text):
        problem = "a link with whitespace or control characters inside (percent-encode them)"
    elif not (colon and _SCHEME.match(scheme)):
        problem = "a relative link or no URL at all"
    elif scheme.lower() not in ("http", "https"):
        problem = f"a {scheme.lower()}: URL"
    elif not (rest.startswith("//") and rest[2:3] not in ("", "/")):
        problem = f"a {scheme.lower()}: URL without a host"
    else:
        return text
    raise ConnectorError(
        ErrorCode.TEMPLATE_ERROR,
        f"payload `link` must be an absolute http:// or https:// URL; got {problem}. Other "
        "schemes (javascript:, data:, mailto: …) are refused: the link is placed in an href.",
        cause=Cause.UNSAFE_LINK,
        reason=problem,
    )


def _code_text(code: Any) -> str:
    try:
        return str(code)
    except (ValueError, TypeError) as exc:  # e.g. an int over Python's digit limit
        raise ConnectorError(
            ErrorCode.TEMPLATE_ERROR, f"payload `code` cannot be turned into text: {exc}"
        ) from None


def _check_size(context: dict[str, Any], max_bytes: int) -> None:
    """The payload's exact size (as JSON) against `max_bytes`; asked only of one whose rough
    size may be near it."""
    try:
        size = len(json.dumps(context, default=str, ensure_ascii=False).encode("utf-8"))
    except (ValueError, TypeError, RecursionError):
        size = max_bytes + 1  # e.g. an integer too long to print: certainly too big
    if size > max_bytes:
        raise ConnectorError(
            ErrorCode.TEMPLATE_ERROR,
            f"payload is {size} bytes, over the limit of {max_bytes} (`maxPayloadBytes`); "
            "a verification email needs only a code, a link and a few names.",
            cause=Cause.PAYLOAD_TOO_LARGE,
            reason=f"{size} bytes, over {max_bytes}",
        )


def _rough_size(value: Any, depth: int = 0) -> int:
    """Characters in a payload (UTF-8 may be up to 4x more bytes), without serialising it.
    Runs for every message, so strings and dicts (nearly all of a payload) are looked at first."""
    if type(value) is str:
        return len(value)
    if type(value) is dict or isinstance(value, Mapping):
        return _mapping_size(value, depth) if depth <= 8 else 1 << 30
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 1  # about the number of decimal digits
    if isinstance(value, float):
        return 24
    if depth > 8:
        return 1 << 30  # deeper than any sane payload: force the exact check
    if isinstance(value, list | tuple | set):
        return sum(_rough_size(v, depth + 1) for v in value)
    return 1 << 30  # anything else: let the exact measurement decide


def rough_size(payload: Mapping[str, Any]) -> int:
    """The characters of a payload's keys and values, as the size check first counts them
    (nested mappings to a depth of 8; what it cannot count cheaply counts as 2**30)."""
    return _mapping_size(payload, 0)


def _mapping_size(value: Mapping[Any, Any], depth: int) -> int:
    total = 0
    for key, item in value.items():
        total += len(key) if type(key) is str else len(str(key))
        total += len(item) if type(item) is str else _rough_size(item, depth + 1)
    return total
