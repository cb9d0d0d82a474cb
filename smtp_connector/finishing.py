"""The last step before the wire: a message's final bytes for the server about to take it.

A failover server with its own `defaultFromEmail` gets the message from that address (with a
Message-ID on its domain); then the configured signers (DKIM, S/MIME) sign the bytes. The
delivery backend calls this per attempt.

It is an object of its own, holding only the senders and signers, rather than a bound method
of `SmtpConnector`: the backend keeps it for its lifetime, and a bound method would tie the
connector and its backend in a reference cycle. A connector in a cycle is not freed when its
last user lets go but left, with its hundreds of objects (one per failover server: config,
health, session options …), to the garbage collector, whose passes hold the interpreter lock
while they walk it. The service replaces an app's connector at every definition change, so
with many tenants those passes paused every other app's sends (benchmarks/tenant_builds.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .compose.message import RenderedEmail, make_message_id
from .compose.senders import Senders

if TYPE_CHECKING:  # loaded when a config signs (DKIM/S/MIME)
    from .config.views import ServerEntryView
    from .signing.policy import Signer


class Finisher:
    """`finisher(email, server)` -> (the email as sent to `server`, its bytes)."""

    __slots__ = ("_senders", "_signers", "_smime_strict")

    def __init__(self, senders: Senders, signers: Sequence[Signer], smime_strict: bool) -> None:
        self._senders = senders
        self._signers = signers
        self._smime_strict = smime_strict  # S/MIME's dontSendOnError (True when unset)

    def __call__(
        self, email: RenderedEmail, server: ServerEntryView
    ) -> tuple[RenderedEmail, bytes]:
        if server.default_from_email:
            address = self._senders.for_server(server.default_from_email, server.default_from_name)
            if address != email.from_address:
                email = dataclasses.replace(
                    email,
                    from_address=address,
                    message_id=make_message_id(address.ascii_domain),
                    _bytes=None,
                )
        data = email.as_bytes()
        if self._signers:
            from .signing.policy import sign_message

            data = sign_message(data, self._signers, self._smime_strict)
        return email, data
