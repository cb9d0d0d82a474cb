"""The STARTTLS + AUTH server for latency.py, in its own process so that it does not share a
GIL (and its 5 ms switch interval) with the client being measured.

Usage: python latency_server.py CERT.pem KEY.pem PASSWORD → prints the port, serves until stdin
closes.
"""

from __future__ import annotations

import logging
import ssl
import sys
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sink import free_port


class _Handler:
    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        """Advertise PIPELINING, as the big providers' servers do (aiosmtpd processes commands
        in order, so it handles a pipelined burst correctly)."""
        session.host_name = hostname
        responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def main() -> None:
    cert, key, password = sys.argv[1], sys.argv[2], sys.argv[3]
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd's per-session chatter
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and data.password.decode() == password
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(
        _Handler(),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    print(port, flush=True)
    sys.stdin.read()  # the parent closes stdin to stop us
    controller.stop()


if __name__ == "__main__":
    main()
