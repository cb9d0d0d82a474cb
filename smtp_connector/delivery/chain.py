"""Pipelined transactions chained on one connection: one round trip per message when warm.

RFC 2920 lets a client send the final `.` of one message and the MAIL, RCPT and DATA of the
next in one write. The sender does that whenever another message is waiting, so a busy
connection carries one write and one read per message:

    write  <content of n> "." MAIL(n+1) RCPT(n+1) DATA(n+1)
    read   250 (n)  250 250 354 (n+1)
    await  n+1's checkpoint, then write <content of n+1> "." MAIL(n+2) …

Replies come back in order, so the first reply of a burst belongs to n and the rest to n+1: a
rejection of n (550 at end of data) is n's alone, and a refused RCPT of n+1 is n+1's alone.
Each message's content still leaves only after its own 354 and its own checkpoint, so the
never-twice guarantee holds. If the connection is lost mid-burst, n is "delivery unknown"
(stage `after_data`) unless its reply had already arrived, and n+1, which never got past its
envelope, fails at stage `mail`, which is safe to retry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiosmtplib

from ..errors import ConnectorError
from .checkpoint import reach_message_data
from .pipelining import PipeliningProtocol, Reply
from .session import SmtpSession
from .transaction import Delivery, Job, envelope, one_accepted, read_envelope

Outcome = Delivery | ConnectorError
Settle = Callable[[Job, Outcome], None]
Take = Callable[[], Job | None]
RESET_TIMEOUT_S = 2.0
_new = object.__new__


class _Sent:
    """A message whose content is in the burst being written: its final reply comes first."""

    __slots__ = ("accepted", "job", "payload", "rejected", "session", "settle", "settled")

    def __init__(
        self,
        job: Job,
        payload: bytes,
        accepted: list[str],
        rejected: dict[str, tuple[int, str]],
        session: SmtpSession,
        settle: Settle,
    ) -> None:
        self.job, self.payload = job, payload
        self.accepted, self.rejected = accepted, rejected
        self.session, self.settle = session, settle
        self.settled = False

    def final_reply(self, reply: Reply) -> None:
        """Settle the message with the reply to its final dot (once)."""
        if not self.settled:
            self.settled = True
            self.settle(self.job, _final(self.session, self, reply))


async def run_chain(
    session: SmtpSession, protocol: PipeliningProtocol, first: Job, take: Take, settle: Settle
) -> None:
    """Deliver `first`, then whatever `take()` hands over while the connection is busy, until
    nothing is waiting or the connection has to stop. Every job taken is settled.

    Written for the message of every burst: the envelope's common case (one recipient
    accepted, 354, no checkpoint) is read here rather than in `_start_content`'s coroutine,
    and the burst is the protocol's future, not `exchange`'s coroutine (one coroutine
    created and resumed less each, twice a message); anything else goes the general way."""
    timeout = session.socket_timeout_s
    sent: _Sent | None = None
    current: Job | None = first
    while sent is not None or current is not None:
        payload = b""
        if current is not None:
            try:
                burst, payload = envelope(session.smtp, current, session.name)
            except ConnectorError as error:  # e.g. SMTPUTF8 needed but not offered: nothing sent
                settle(current, error)
                current = None
        if current is not None:
            expected = len(current.recipients) + 2
            lead = current
            if sent is not None:
                burst, expected, lead = sent.payload + burst, expected + 1, sent.job
        elif sent is not None:
            burst, expected, lead = sent.payload, 1, sent.job
        else:
            return
        deadline = time.monotonic() + timeout
        if lead.deadline < deadline:
            deadline = lead.deadline
        # The sent message is settled from the protocol's callback as soon as the replies are
        # in (`final_reply`): its send then runs before this task and usually queues its next
        # message by the time `take()` below looks, so no yield is needed for it.
        try:
            pending = protocol.start_burst(
                burst, expected, deadline, sent.final_reply if sent is not None else None
            )
            try:
                replies = await pending
            finally:
                protocol.end_burst()
        except Exception as exc:
            _lost(session, protocol.received, exc, sent, current, settle)
            return
        if sent is not None:
            if not sent.settled:  # settled already by the callback, unless it was skipped
                sent.final_reply(replies[0])
            sent = None
        if current is None:
            return
        job, current = current, None
        if (  # `_start_content`'s common case, nothing to await: no coroutine for it
            job.checkpoint is None
            and len(job.recipients) == 1
            and one_accepted(replies)
            and not job.future.done()
        ):
            job.content_sent = True
            sent = _sent(job, payload, list(job.recipients), {}, session, settle)
        else:
            sent = await _start_content(session, protocol, job, replies, payload, settle)
        if sent is not None:
            # The message to ride on the next burst. If none is waiting, yield once first:
            # other sends woken by the last bursts run then and may queue a message, which
            # saves a whole round trip (and a write and a read) for it.
            current = take()
            if current is None:
                await asyncio.sleep(0)
                current = take()


async def _start_content(
    session: SmtpSession,
    protocol: PipeliningProtocol,
    job: Job,
    replies: list[Reply],
    payload: bytes,
    settle: Settle,
) -> _Sent | None:
    """Read `job`'s envelope replies; on 354 run its checkpoint and return it ready for its
    content. On a refusal, settle it, bring the session back to a clean state and return None."""
    answers = replies[-(len(job.recipients) + 2) :]
    try:
        accepted, rejected = read_envelope(job, answers)
    except aiosmtplib.SMTPException as exc:
        stage = "data" if isinstance(exc, aiosmtplib.SMTPDataError) else "mail"
        settle(job, session.map_error(exc, stage))
        await _clean_up(session, protocol, answers[-1].code == 354, stage)
        return None
    if job.future.done():  # the caller gave up; the server waits for content: hang up
        session.abort()
        settle(job, session.map_error(asyncio.CancelledError(), "data"))  # forget it
        return None
    if job.checkpoint is not None:  # no coroutine to await when the send set none
        try:
            await reach_message_data(session.name, job.checkpoint)
        except ConnectorError as error:
            session.abort()  # nothing of the content was sent; the server is in DATA
            settle(job, error)
            return None
    job.content_sent = True
    return _sent(job, payload, accepted, rejected, session, settle)


def _sent(
    job: Job,
    payload: bytes,
    accepted: list[str],
    rejected: dict[str, tuple[int, str]],
    session: SmtpSession,
    settle: Settle,
) -> _Sent:
    """`_Sent(job, payload, accepted, rejected, session, settle)` without its `__init__` (a
    class call through `slot_tp_init`, one a message): every slot stored, as `__init__`
    stores them (tests/delivery/test_plain_builds.py)."""
    sent = _new(_Sent)
    sent.job, sent.payload = job, payload
    sent.accepted, sent.rejected = accepted, rejected
    sent.session, sent.settle = session, settle
    sent.settled = False
    return sent


def _final(session: SmtpSession, sent: _Sent, reply: Reply) -> Outcome:
    """The outcome of a message from the reply to its final dot."""
    if reply.code != 250:
        return session.map_error(aiosmtplib.SMTPDataError(reply.code, reply.message), "data")
    session.messages_sent += 1
    session.last_used = time.monotonic()
    # `Delivery(sent.accepted, sent.rejected, reply.message, reply.code, True)` without the
    # dataclass's `__init__` (a class call through `slot_tp_init`, ~650 instructions more):
    # the same fields, in `__init__`'s order (tests/delivery/test_plain_builds.py).
    delivery = _new(Delivery)
    delivery.accepted, delivery.rejected = sent.accepted, sent.rejected
    delivery.response, delivery.smtp_code, delivery.pipelined = reply.message, reply.code, True
    return delivery


def _lost(
    session: SmtpSession,
    received: list[Reply],
    exc: Exception,
    sent: _Sent | None,
    current: Job | None,
    settle: Settle,
) -> None:
    """A burst failed (connection lost, timeout, invalid reply): drop the connection. The
    message whose content was in it is delivered or refused if its reply came, else unknown;
    the one whose envelope was in it never reached its content."""
    session.abort()
    if sent is not None and not sent.settled:
        if received:
            sent.final_reply(received[0])
        else:
            sent.settled = True
            settle(sent.job, session.map_error(exc, "after_data"))
    if current is not None:
        settle(current, session.map_error(exc, "mail"))


async def _clean_up(
    session: SmtpSession, protocol: PipeliningProtocol, in_data: bool, stage: str
) -> None:
    """After a refused envelope: end a DATA the server opened anyway (RFC 2920), then RSET;
    a refused DATA command drops the connection, as the lock-step path does."""
    if stage == "data" and not in_data:
        session.abort()
        return
    burst, expected = (b".\r\nRSET\r\n", 2) if in_data else (b"RSET\r\n", 1)
    try:
        replies = await protocol.exchange(burst, expected, time.monotonic() + RESET_TIMEOUT_S)
    except Exception:
        session.abort()
        return
    if replies[-1].code != 250:
        session.abort()
