"""Ports and listening sockets for the commands that take a `--port`.

A port is checked when the command line is read, before anything starts (a port of 70000 would
otherwise be accepted by one layer and wrapped or refused with a traceback by another), and
`serve` binds its socket itself before it opens the database, so a port already in use is one
line naming the port and what to do, not a server log ending in uvicorn's exit status.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

import click

from ..errors import ConnectorError, ErrorCode

MAX_PORT = 65535


class PortType(click.ParamType):
    """A TCP port number: 1-65535, or 0 as well where "any free port" makes sense."""

    name = "port"

    def __init__(self, *, free_port_ok: bool = False) -> None:
        self.free_port_ok = free_port_ok

    @property
    def expected(self) -> str:
        return "use 1-65535" + (", or 0 for any free port" if self.free_port_ok else "")

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "PORT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a valid port; {self.expected}.", param, ctx)
        if not (0 if self.free_port_ok else 1) <= number <= MAX_PORT:
            self.fail(f"{number} is not a valid port; {self.expected}.", param, ctx)
        return number


def port_option(*, default: int | None, help: str, free_port_ok: bool = False) -> Any:
    """`--port`, checked as above; `help` says what the port is for."""
    return click.option(
        "--port",
        type=PortType(free_port_ok=free_port_ok),
        default=default,
        show_default=default is not None,
        help=help,
    )


def bind_listeners(host: str, port: int) -> list[socket.socket]:
    """Bound (not yet listening) sockets for every address `host` resolves to, as asyncio's
    `create_server` would make them; a failure is an `invalid_config` error of one line. The
    host goes to getaddrinfo as the send path hands it (`lookup_name`): `socket` would encode a
    text host with the `idna` codec, whose import (`stringprep`, `unicodedata`) stayed in an
    idle `serve`'s memory (0.9 MB) for `127.0.0.1`."""
    from ..delivery.network import lookup_name  # here: the other commands with a port bind none

    try:
        infos = socket.getaddrinfo(
            lookup_name(host), port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        problem = f"{host!r} is not a local address ({exc.strerror}); pass --host an interface"
        raise _cannot_listen(f"{host}:{port}", problem + ", e.g. 127.0.0.1 or 0.0.0.0") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise _cannot_listen(f"{host}:{port}", _bind_problem(exc, port)) from None
    return sockets


def _bind_problem(exc: OSError, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} is already in use (another smtp-connector, or something else, is "
            "listening there); stop it or choose another port with --port"
        )
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need root); use a port above 1023, e.g. 8025"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "that address is not one of this machine's; pass --host 127.0.0.1 or 0.0.0.0"
    return exc.strerror or str(exc)


def _cannot_listen(where: str, problem: str) -> ConnectorError:
    return ConnectorError(ErrorCode.INVALID_CONFIG, f"Cannot listen on {where}: {problem}.")
