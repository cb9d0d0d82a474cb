"""`json.dumps` for the payload of every queued send, without building its encoder per call.

Each enqueue stores its payload as JSON text (sqlite_outbox.py). `json.dumps(value)` builds
json's C encoder (`c_make_encoder`) anew behind two Python layers on every call: about 16,000
instructions for `{"code": "123456"}`. Round 3 wrote the plain values out in Python instead
(about 9,600 there, but 21,000 for `{"code": …, "application": {"name": …}}`, the payload
Logto sends, as every nested dict is another walk in Python). Here the one C encoder
`json.dumps` would build is built once and called again: its text and errors are
`json.dumps`'s own (7,700 and 12,700 instructions for those two payloads).

The encoder keeps the containers it is inside (its `markers`, for the circular-reference
check) while it runs, and an encoding that fails (a value json cannot write, a circular or too
deep one) leaves its marks behind, which a later call would take for a circular reference.
So an encoder is reused only after a call that succeeded, and each call takes one that no
other call holds at the moment (a free one, or a new one: two threads, or a value's own code
running mid-call, never share one). tests/queue/test_plain_json.py holds the text and the
errors to `json.dumps` (hypothesis), also after failed calls and for calls that overlap.
(A value nested past the recursion limit raises `RecursionError` as with `json.dumps`; the
depth where that starts is `json.dumps`'s less its own two Python frames, as it differs between
any two callers. A send's body is refused past 32 levels long before, server/input_guard.py.)
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable
from typing import Any

_Encoder = Callable[[Any, int], Any]
# json's C encoder factory (None on a Python built without json's speedups); typeshed omits it.
_MAKE: Callable[..., _Encoder] | None = getattr(json.encoder, "c_make_encoder", None)
_DEFAULT = json.JSONEncoder()  # `json.dumps`'s own settings (its `_default_encoder`)
_FREE: list[_Encoder] = []  # encoders no call holds; at most as many as calls ever overlapped


def _encoder() -> _Encoder:
    """The encoder `json.dumps(value)` builds (`JSONEncoder.iterencode`, one shot, defaults)."""
    settings = _DEFAULT
    assert _MAKE is not None  # `dumps` asks first
    return _MAKE(
        {}, settings.default, json.encoder.encode_basestring_ascii, settings.indent,
        settings.key_separator, settings.item_separator, settings.sort_keys,
        settings.skipkeys, settings.allow_nan,
    )  # fmt: skip


def dumps(value: Any) -> str:
    """`json.dumps(value)`, the same text and errors."""
    if _MAKE is None:  # a Python without json's C speedups
        return json.dumps(value)
    encoder = _FREE.pop() if _FREE else _encoder()
    text = "".join(encoder(value, 0))  # a failure drops `encoder` (its marks may remain)
    _FREE.append(encoder)
    return text
