"""Input no route can store or send, refused at the edge with 400 (findings 10, 11, 14).

Python's `json` accepts what JSON itself does not quite mean: a lone surrogate escape
(`"\\ud800"`: no character, and `UnicodeEncodeError` wherever the text is encoded later),
`NaN` and `Infinity` (PostgreSQL's JSON type refuses them, so they surfaced as "database not
available"), numbers like `1e999` that overflow to infinity, and nesting deep enough to exhaust
the recursion limit. Control characters are valid JSON but have no place in an SMTP setting, a
template or a mail payload: C0 except tab, LF and CR; DEL; and C1 (U+0080-U+009F, where U+0085
is a line break to Python's `splitlines`). PostgreSQL refuses NUL in text outright.

One check covers every route: the JSON body (whatever its content type: the dialects parse
`text/plain` as JSON), form bodies, the query string and the path, keys and values alike.
`InputGuard` runs inside FastAPI's middleware (under the body cap) and answers 400 in the
route's own error envelope (`errors.render`); the send route's short path calls `loads` and
leaves anything it refuses to the full stack, so both paths answer alike. Malformed JSON is
not this module's business: the route answers it, as before.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import Failure, render

MAX_DEPTH = 32
_BAD_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_FORM = "application/x-www-form-urlencoded"


class BadInput(Exception):
    """A refusal; its message names where (a field path, a parameter), never the value."""


def check_text(text: str, where: str) -> None:
    found = _BAD_CHAR.search(text)
    if found is None:
        return
    char = found.group()
    if "\ud800" <= char <= "\udfff":
        what = f"a lone surrogate (U+{ord(char):04X}), which is not a character"
    else:
        what = f"a control character (U+{ord(char):04X})"
    raise BadInput(f"{where[0].upper()}{where[1:]} contains {what}; send valid text without it.")


def _reject_constant(name: str) -> Any:
    raise BadInput(f"The JSON body contains {name}: numbers must be finite.")


def loads(body: bytes | str) -> Any:
    """`json.loads` that raises `BadInput` for what this module refuses (and `ValueError` for
    malformed JSON, as `json.loads` does). Every send's body goes through here, so the common
    body costs little more than parsing it (issue 26 §1): it is decoded as `json.loads`
    decodes it, parsed by one decoder built once (`json.loads` with an argument builds one per
    call), and the walk over its value is spared when the text shows nothing to refuse
    (`_plain`) and no number overflowed (`_finite`)."""
    walk = False
    try:
        text = body if isinstance(body, str) else _decoded(body)
        if text.startswith("\ufeff"):  # refused by json.loads alone (a str with a BOM)
            return json.loads(text)
        try:
            value = _DECODE(text)
        except _Overflow:  # parsed again as before: the walk names where
            value, walk = json.loads(text, parse_constant=_reject_constant), True
    except RecursionError:
        raise BadInput(f"The JSON body nests deeper than {MAX_DEPTH} levels.") from None
    if walk or not _plain(text):
        check_value(value)
    return value


def _decoded(body: bytes) -> str:
    """The body's text, as `json.loads` decodes bytes (a body starting `{` without a NUL
    after it is UTF-8 there, so the common one skips `detect_encoding`)."""
    if body[:1] == b"{" and body[1:2] != b"\x00":
        return body.decode("utf-8", "surrogatepass")
    return body.decode(json.detect_encoding(body), "surrogatepass")


def _plain(text: str) -> bool:
    """True when the JSON text alone shows its strings and nesting break no rule: with no
    escape, every string (keys too) is a piece of the text, so a text without a refused
    character has none in its strings; and a value nests no deeper than the text has
    brackets. False leaves it to the walk. (Numbers: `_finite`, as they are parsed.)"""
    return "\\" not in text and no_bad_char(text) and text.count("{") + text.count("[") <= MAX_DEPTH


def no_bad_char(text: str) -> bool:
    """`_BAD_CHAR.search(text) is None`, answered by `str.isprintable` for the usual text:
    every character the pattern refuses (C0 but tab, LF and CR; DEL; C1; surrogates) is one
    `isprintable` refuses, so a printable text has none. The search reads the whole body of
    every send (8,200 instructions for a 110-character body), `isprintable` 3,700. A text with a
    line break or a tab (pretty-printed JSON) is searched as before."""
    return text.isprintable() or _BAD_CHAR.search(text) is None


class _Overflow(Exception):
    """A number parsed to infinity (`1e999`): the walk then names where it is."""


def _finite(number: str) -> float:
    """`float(number)`, as json parses it, refusing infinity (floats only: ints are exact)."""
    value = float(number)
    if value in (_INF, -_INF):
        raise _Overflow
    return value


_INF = float("inf")
_DECODE = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite).decode


def check_value(value: Any) -> None:
    """Raise `BadInput` if a parsed JSON value breaks a rule: depth, strings (keys too),
    numbers. The common case, nothing wrong, takes one quick pass; only a refusal pays for
    finding where the problem is."""
    if not _fine(value, 1):
        _locate(value)


def _fine(value: Any, depth: int) -> bool:
    """True when nothing in `value` breaks a rule (recursion bounded by MAX_DEPTH)."""
    kind = type(value)
    if kind is str:
        return no_bad_char(value)
    if kind is dict:
        return depth <= MAX_DEPTH and all(
            no_bad_char(key) and _fine(child, depth + 1) for key, child in value.items()
        )
    if kind is list:
        return depth <= MAX_DEPTH and all(_fine(child, depth + 1) for child in value)
    if kind is float:
        return math.isfinite(value)
    return True


def _locate(value: Any) -> None:
    """Walk `value` without recursion to raise `BadInput` naming the first problem found."""
    pending: list[tuple[Any, int, Any]] = [(value, 1, None)]  # (item, depth, (parent, key))
    while pending:
        item, depth, at = pending.pop()
        if isinstance(item, str):
            check_text(item, _where(at))
        elif isinstance(item, float) and not math.isfinite(item):
            where = _where(at)
            raise BadInput(f"{where[0].upper()}{where[1:]} is a number too large to represent.")
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise BadInput(f"The JSON body nests deeper than {MAX_DEPTH} levels.")
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str):
                    check_text(key, f"a key in {_where(at)}")
                pending.append((child, depth + 1, (at, key)))


def _where(at: Any) -> str:
    """`at` (a chain of (parent, key)) as `payload.items[2].name`, for messages."""
    parts: list[str] = []
    while at is not None:
        at, key = at
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    if not parts:
        return "the body"
    path = "".join(reversed(parts)).lstrip(".")
    return f"`{path[:120]}`"


def check_pairs(raw: bytes, kind: str) -> None:
    """A query string or form body: each name and value percent-decoded as UTF-8 (strictly:
    `%ff` is refused, not turned into U+FFFD) and checked like JSON strings."""
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        texts = []
        for piece in (name, value):
            try:
                texts.append(unquote_to_bytes(piece.replace(b"+", b" ")).decode("utf-8"))
            except UnicodeDecodeError:
                raise BadInput(f"The {kind} is not UTF-8 (percent-encode UTF-8 bytes).") from None
        check_text(texts[0], f"a {kind} parameter name")
        check_text(texts[1], f"the {kind} parameter `{texts[0][:60]}`")


def check_body(content_type: str, body: bytes) -> None:
    """A form body by its pairs, anything else that parses as JSON by its value. A body is a
    form when its content type mentions the form type anywhere, as the dialects decide
    (`dialects/common.read_params`), so no content type reads as a form there unchecked."""
    if not body.strip():
        return
    if _FORM in content_type.lower():
        check_pairs(body, "form")
        return
    try:
        loads(body)
    except ValueError:
        return  # malformed JSON, or not JSON at all: the route says so in its own terms


class InputGuard:
    """ASGI middleware: path, query string and body checked before the route sees them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_text(scope["path"], "the URL path")
            check_pairs(scope["query_string"], "query")
        except BadInput as exc:
            await _refuse(scope, receive, send, Failure(400, "invalid_request", str(exc)))
            return
        if not _has_body(scope):
            await self.app(scope, receive, send)
            return
        try:
            messages, body = await _read_body(receive)
        except HTTPException as exc:  # the body cap (limits.BodyLimit) refused it
            failure = Failure(exc.status_code, "payload_too_large", str(exc.detail))
            await _refuse(scope, receive, send, failure)
            return
        if body is not None:
            try:
                check_body(_header(scope, b"content-type"), body)
            except BadInput as exc:
                await _refuse(scope, receive, send, Failure(400, "invalid_request", str(exc)))
                return
        await self.app(scope, replay(messages, receive), send)


def _header(scope: Scope, name: bytes) -> str:
    """The first value of header `name` (as Starlette reads it), or ""."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _has_body(scope: Scope) -> bool:
    length = _header(scope, b"content-length")
    return bool(_header(scope, b"transfer-encoding")) or (length not in ("", "0"))


async def _read_body(receive: Receive) -> tuple[list[Message], bytes | None]:
    """Every message received (for the replay) and the body; None if the client left."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, b"".join(chunks)


def replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that hands out `messages` first, then asks the client again."""
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _refuse(scope: Scope, receive: Receive, send: Send, failure: Failure) -> None:
    await render(Request(scope), failure)(scope, receive, send)
