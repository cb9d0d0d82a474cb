"""ESMTP PIPELINING (RFC 2920) on top of aiosmtplib's protocol.

aiosmtplib's protocol keeps one pending reply and drops data that arrives while nobody waits for
it: right for lock-step, but it loses the replies to pipelined commands. `PipeliningProtocol`
adds a burst mode in which several commands leave in one write and every reply is parsed as it
arrives; one future completes when all of them are in.

Two costs are kept off the per-message path. Replies are parsed by `parse_replies`, which reads
the code and the text and nothing else, and a line the server sent before (its 250s and 354) is
looked up whole rather than parsed again.
And a burst's deadline is a number, not a timer: one watchdog per connection stays armed across
bursts and only looks at the clock when it fires, so a burst that completes in time costs no
timer at all (aiosmtplib's `wait_for`, or a `call_later` per exchange, cost one each).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiosmtplib
from aiosmtplib.errors import SMTPResponseException
from aiosmtplib.protocol import MAX_LINE_LENGTH, MAX_RESPONSE_LENGTH, SMTPProtocol
from aiosmtplib.status import SMTPStatus

_INVALID = SMTPStatus.invalid_response.value
_SPACE = b" \t\r\n"
_CODES = {str(code).encode(): code for code in (221, 250, 251, 252, 334, 354, 421, 450, 550)}


class PipeliningProtocol(SMTPProtocol):
    """aiosmtplib's protocol, plus a mode that collects every reply of a burst."""

    _burst: asyncio.Future[list[Reply]] | None = None
    _burst_replies: list[Reply] = []  # noqa: RUF012 (replaced per burst, never mutated)
    _burst_expected = 0
    _burst_deadline = 0.0
    _watchdog: asyncio.TimerHandle | None = None
    _watch_at = 0.0
    _first_reply: Callable[[Reply], None] | None = None

    def data_received(self, data: bytes) -> None:
        burst = self._burst
        if burst is None:
            super().data_received(data)
            return
        buffer = self._buffer
        if burst.done():
            buffer.extend(data)
            return
        if buffer:  # the rest of a reply that came in pieces
            buffer.extend(data)
            data = bytes(buffer)
            del buffer[:]
        replies = self._burst_replies
        try:
            used = parse_replies(data, replies, self._burst_expected)
        except SMTPResponseException as exc:  # malformed reply: surface it to the sender
            burst.set_exception(exc)
            return
        if used < len(data):
            buffer.extend(data[used:] if used else data)
        if len(replies) == self._burst_expected:
            first_reply, self._first_reply = self._first_reply, None
            if first_reply is not None:
                first_reply(replies[0])  # before the burst's waiter wakes: see `exchange`
            burst.set_result(replies)
        elif len(buffer) > MAX_RESPONSE_LENGTH:
            # aiosmtplib's cap on an unparsed reply, kept in burst mode: a server that never
            # ends its line must not grow the buffer without bound.
            del buffer[:]
            burst.set_exception(SMTPResponseException(_INVALID, "Response too long"))

    @property
    def received(self) -> list[Reply]:
        """The replies the last burst got before it ended (all of them, unless it failed)."""
        return self._burst_replies

    def _fail_burst(self, message: str) -> None:
        if self._burst is not None and not self._burst.done():
            self._burst.set_exception(aiosmtplib.SMTPServerDisconnected(message))

    def eof_received(self) -> bool:
        self._fail_burst("Unexpected EOF received")
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_burst("Connection lost")
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        super().connection_lost(exc)

    async def exchange(
        self,
        data: bytes,
        replies: int,
        deadline: float,
        first_reply: Callable[[Reply], None] | None = None,
    ) -> list[Reply]:
        """Write `data` (several commands) at once and read `replies` replies in order, failing
        with a read timeout at `deadline` (a `time.monotonic()` value).

        `first_reply` is called with the first reply as soon as all of them are in, from the
        protocol's callback, before the caller wakes: a chain settles the message that reply
        belongs to there, so its send resumes (and queues its next message) before the
        connection's task looks for one. Not called when the burst fails."""
        burst = self.start_burst(data, replies, deadline, first_reply)
        try:
            return await burst
        finally:
            self.end_burst()

    def start_burst(
        self,
        data: bytes,
        replies: int,
        deadline: float,
        first_reply: Callable[[Reply], None] | None = None,
    ) -> asyncio.Future[list[Reply]]:
        """`exchange` without its coroutine, for the chain (one a message): writes `data` and
        returns the burst's future. The caller awaits it and then, succeeded or not, calls
        `end_burst`, as `exchange` does in its `finally` (until then, data that arrives after
        the burst is kept for the next one). Raises, the burst already ended, when the
        connection is closed."""
        burst: asyncio.Future[list[Reply]] = self._loop.create_future()
        self._burst, self._burst_replies, self._burst_expected = burst, [], replies
        self._first_reply = first_reply
        self._burst_deadline = deadline
        if self._watchdog is None or self._watch_at > deadline:
            self._arm(deadline)
        transport = self.transport
        if transport is None or transport.is_closing():
            self.end_burst()
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        try:
            transport.write(data)  # type: ignore[attr-defined]
        except BaseException:
            self.end_burst()
            raise
        return burst

    def end_burst(self) -> None:
        """The burst is over (answered, failed or given up): later replies wait for the next."""
        self._burst = self._first_reply = None

    def _arm(self, at: float) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watch_at = at
        self._watchdog = self._loop.call_later(max(at - time.monotonic(), 0.0), self._watch)

    def _watch(self) -> None:
        """The connection's one timer: expire the burst in flight if its deadline has passed,
        else sleep again until that deadline (nothing in flight: disarm until the next burst)."""
        self._watchdog = None
        burst = self._burst
        if burst is None or burst.done():
            return
        if time.monotonic() < self._burst_deadline:
            self._arm(self._burst_deadline)
            return
        burst.set_exception(
            aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response")
        )


class Reply:
    """One SMTP reply: its code, and its text decoded only if someone reads it (the text of a
    250 to MAIL or RCPT never is), then kept: a remembered line (`_KNOWN`, the final 250 of
    every message with many servers) is decoded once, not once a message."""

    __slots__ = ("_raw", "_text", "code")

    def __init__(self, code: int, raw: bytes) -> None:
        self.code = code
        self._raw = raw
        self._text: str | None = None

    @property
    def message(self) -> str:
        text = self._text
        if text is None:
            text = self._text = self._raw.decode("utf-8", "surrogateescape")
        return text

    def __repr__(self) -> str:
        return f"Reply({self.code}, {self.message!r})"


_new_reply = object.__new__
# Replies by their whole line, as a server sends the same few again and again (the 250 to MAIL
# and RCPT, the 354 to DATA; smtp-sink's and many servers' final 250 too): a line seen before
# costs one dict lookup, not a parse. At most `MAX_KNOWN` lines, cleared when full (a server
# that numbers its queue ids makes every final reply new). Replies are never changed once
# parsed, so one object can stand for every time its line came.
_KNOWN: dict[bytes, Reply] = {}
MAX_KNOWN = 256
# Whole bursts whose every line was remembered already, by their bytes: a warm connection to
# a server that sends the same lines (smtp-sink, many servers) gets the same burst for every
# message (the last message's 250 and the next one's 250 250 354), read with one lookup. At
# most `MAX_BURSTS` of at most `MAX_BURST_BYTES` each (128 KB in all); emptied with
# `_KNOWN`, so it holds only replies `_KNOWN` holds. A burst with a new line (a numbered
# queue id) is never remembered.
_BURSTS: dict[bytes, tuple[Reply, ...]] = {}
MAX_BURSTS = 64
MAX_BURST_BYTES = 2048


def parse_replies(data: bytes, replies: list[Reply], wanted: int) -> int:
    """Parse complete replies from the front of `data` into `replies` (at most `wanted` in
    all); returns how many bytes they took. Continuation lines are joined by newlines, as
    aiosmtplib does; a line without a three-digit code, or one over aiosmtplib's line cap,
    raises `SMTPResponseException` (invalid response).

    When every complete line can be a reply still wanted (a burst's replies, the usual case),
    the lines are read one by one, each known line looked up whole; the first multi-line reply
    hands the rest to `_parse_from`; a burst of remembered lines seen before is looked up
    whole (`_BURSTS`) when it fits (tests/delivery/test_reply_parsing.py)."""
    burst = _BURSTS.get(data)
    if burst is not None and len(burst) <= wanted - len(replies):
        replies += burst  # what the loop below gives for it: each line's remembered reply
        return len(data)
    lines = data.split(b"\n")
    rest = lines.pop()  # after the last line end: part of a reply still to come
    if len(lines) > wanted - len(replies):
        return _parse_from(data, 0, replies, wanted)
    known, before, new = _KNOWN, len(replies), False
    for line in lines:
        reply = known.get(line)
        if reply is None:
            reply = _one_line(line)
            if reply is None:  # a multi-line reply: the general parse from its first line
                done = lines[: len(replies) - before]
                return _parse_from(data, sum(map(len, done)) + len(done), replies, wanted)
            new = True
        replies.append(reply)
    if not new and lines and not rest and len(data) <= MAX_BURST_BYTES:  # all remembered
        if len(_BURSTS) >= MAX_BURSTS:
            _BURSTS.clear()
        _BURSTS[data] = tuple(replies[before:])
    return len(data) - len(rest)


def _one_line(line: bytes) -> Reply | None:
    """The reply that `line` (without its LF) is, remembered; None when it is the first line
    of a multi-line reply. Raises as `_code` does for a malformed or over-long line."""
    if line[3:4] == b"-":
        return None
    reply = _new_reply(Reply)
    reply.code, reply._raw = _code(line, 0, len(line)), line[4:].strip(_SPACE)
    reply._text = None
    if len(_KNOWN) >= MAX_KNOWN:
        _KNOWN.clear()
        _BURSTS.clear()
    _KNOWN[line] = reply
    return reply


def _parse_from(data: bytes, start: int, replies: list[Reply], wanted: int) -> int:
    """The general parse, from `start`: line by line, multi-line replies joined."""
    find = data.find
    while len(replies) < wanted:
        end = find(b"\n", start)
        if end == -1:
            break
        if data[start + 3 : start + 4] != b"-":  # one line
            code = _CODES.get(data[start : start + 3])
            if code is None or end - start >= MAX_LINE_LENGTH:
                code = _code(data, start, end)  # any other code; raises for a bad line
            reply = _new_reply(Reply)  # no `__init__` frame
            reply.code, reply._raw = code, data[start + 4 : end].strip(_SPACE)
            reply._text = None
            replies.append(reply)
            start = end + 1
            continue
        parsed = _multiline(data, start)
        if parsed is None:
            break
        replies.append(parsed[0])
        start = parsed[1]
    return start


def _multiline(data: bytes, start: int) -> tuple[Reply, int] | None:
    """A reply of several lines starting at `start`, and where it ends; None if incomplete."""
    lines: list[bytes] = []
    while True:
        end = data.find(b"\n", start)
        if end == -1:
            return None
        code = _code(data, start, end)
        lines.append(data[start + 4 : end].strip(_SPACE))
        last = data[start + 3 : start + 4] != b"-"
        start = end + 1
        if last:
            return Reply(code, b"\n".join(lines)), start


def _code(data: bytes, start: int, end: int) -> int:
    digits = data[start : start + 3]
    code = _CODES.get(digits)
    if code is not None and end - start < MAX_LINE_LENGTH:
        return code
    if end - start >= MAX_LINE_LENGTH:
        raise SMTPResponseException(_INVALID, "Response too long")
    if len(digits) != 3 or not digits.isdigit():
        line = data[start:end].decode("utf-8", errors="ignore")
        raise SMTPResponseException(_INVALID, f"Malformed SMTP response line: {line}")
    return int(digits)


def enable_pipelining(smtp: aiosmtplib.SMTP) -> PipeliningProtocol:
    """Turn the connected client's protocol into a `PipeliningProtocol`.

    aiosmtplib builds its own protocol inside `connect()`, so the class is switched in place (the
    subclass adds no state of its own) and the protocol is then handed to the transport again:
    a transport may keep the protocol's bound methods from when it was set — uvloop's do — and
    would otherwise keep calling the base `data_received`, which drops pipelined replies.
    """
    protocol = smtp.protocol
    transport = smtp.transport
    assert protocol is not None and transport is not None
    protocol.__class__ = PipeliningProtocol
    transport.set_protocol(protocol)
    assert isinstance(protocol, PipeliningProtocol)
    return protocol
