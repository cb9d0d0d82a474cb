"""ESMTP PIPELINING (RFC 2920) on top of aiosmtplib's protocol.

aiosmtplib's protocol keeps one pending reply and drops data that arrives while nobody waits for
it: right for lock-step, but it loses the replies to pipelined commands. `PipeliningProtocol`
adds a burst mode in which several commands leave in one write and every reply is parsed as it
arrives; one future completes when all of them are in.
"""

from __future__ import annotations

import asyncio

import aiosmtplib
from aiosmtplib.errors import SMTPResponseException
from aiosmtplib.protocol import MAX_RESPONSE_LENGTH, SMTPProtocol
from aiosmtplib.response import SMTPResponse
from aiosmtplib.status import SMTPStatus


class PipeliningProtocol(SMTPProtocol):
    """aiosmtplib's protocol, plus a mode that collects every reply of a burst."""

    _burst: asyncio.Future[list[SMTPResponse]] | None = None
    _burst_replies: list[SMTPResponse]
    _burst_expected = 0

    def data_received(self, data: bytes) -> None:
        burst = self._burst
        if burst is None:
            super().data_received(data)
            return
        self._buffer.extend(data)
        if len(self._buffer) > MAX_RESPONSE_LENGTH:
            # aiosmtplib's cap on an unparsed reply, kept in burst mode: a server that never
            # ends its line must not grow the buffer without bound.
            del self._buffer[:]
            burst.set_exception(
                SMTPResponseException(SMTPStatus.invalid_response.value, "Response too long")
            )
            return
        while not burst.done():
            try:
                response = self._read_response_from_buffer()
            except Exception as exc:  # malformed reply: surface it to the waiting sender
                burst.set_exception(exc)
                return
            if response is None:
                return
            self._burst_replies.append(response)
            if len(self._burst_replies) == self._burst_expected:
                burst.set_result(self._burst_replies)

    def _fail_burst(self, message: str) -> None:
        if self._burst is not None and not self._burst.done():
            self._burst.set_exception(aiosmtplib.SMTPServerDisconnected(message))

    def eof_received(self) -> bool:
        self._fail_burst("Unexpected EOF received")
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_burst("Connection lost")
        super().connection_lost(exc)

    async def exchange(
        self, data: bytes, replies: int, timeout: float | None
    ) -> list[SMTPResponse]:
        """Write `data` (several commands) at once and read `replies` replies in order.

        The timeout is a timer on the future rather than `asyncio.wait_for`, which would cost
        an extra event-loop iteration per exchange on the latency-critical path.
        """
        burst: asyncio.Future[list[SMTPResponse]] = self._loop.create_future()
        self._burst, self._burst_replies, self._burst_expected = burst, [], replies
        timer = None if timeout is None else self._loop.call_later(timeout, _expire, burst)
        try:
            self.write(data)
            return await burst
        finally:
            if timer is not None:
                timer.cancel()
            self._burst = None


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


def _expire(burst: asyncio.Future[list[SMTPResponse]]) -> None:
    if not burst.done():
        error = aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response")
        burst.set_exception(error)
