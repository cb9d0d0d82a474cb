"""`json.dumps` for the payload of every queued send, without building its encoder per call.

Each enqueue stores its payload as JSON text (sqlite_outbox.py). `json.dumps(value)` builds
json's C encoder (`c_make_encoder`) anew behind two Python layers on every call: about 16,000
instructions for `{"code": "123456"}`. Round 3 wrote the plain values out in Python instead
(about 9,600 there, but 21,000 for `{"code": …, "application": {"name": …}}`, the payload
Logto sends, as every nested dict is another walk in Python). Here the one C encoder
`json.dumps` would build is built once and called again: its text and errors are
`json.dumps`'s own (7,300 and 12,500 instructions for those two payloads). The send's
202 is written the same way (server/fast_send.py, its own settings).

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


class ReusedEncoder:
    """`settings.encode(value)` (a `json.JSONEncoder`'s text and errors) with the C encoder
    that call would build, built once per overlapping call instead of per call (module doc).
    Settings the one-shot C path does not take (`indent`) encode as `settings` does."""

    def __init__(self, settings: json.JSONEncoder) -> None:
        self.settings = settings
        self._free: list[_Encoder] = []  # encoders no call holds; at most as many as overlapped
        self._reuse = _MAKE is not None and settings.indent is None

    def _encoder(self) -> _Encoder:
        """The encoder `settings.encode` builds (`JSONEncoder.iterencode`, one shot)."""
        settings = self.settings
        assert _MAKE is not None  # `__call__` asks first
        return _MAKE(
            {} if settings.check_circular else None, settings.default,
            json.encoder.encode_basestring_ascii if settings.ensure_ascii
            else json.encoder.encode_basestring,
            settings.indent, settings.key_separator, settings.item_separator,
            settings.sort_keys, settings.skipkeys, settings.allow_nan,
        )  # fmt: skip

    def __call__(self, value: Any) -> str:
        if not self._reuse:
            return self.settings.encode(value)
        free = self._free
        encoder = free.pop() if free else self._encoder()
        text = "".join(encoder(value, 0))  # a failure drops `encoder` (its marks may remain)
        free.append(encoder)
        return text


# `json.dumps(value)`: the same text and errors (its `_default_encoder`'s settings).
dumps = ReusedEncoder(json.JSONEncoder())
