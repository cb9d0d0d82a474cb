"""The config's SMTP servers as delivery holds them: each with its session options (TLS
context, OAuth2 token source, pipelining, address policy) and its health, built once when the
connector is built, so a missing credential or extra fails then and not on the first send.

Split from failover.py, which decides which of these servers a send tries and when.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config.plain import invalid_config
from .health import ServerHealth
from .network import AddressPolicy
from .session import SessionOptions
from .tls import build_ssl_context, may_use_tls

if TYPE_CHECKING:  # OAuth2 loads only for a server that uses it
    from ..config.views import ConfigView, ServerEntryView
    from .oauth import TokenProvider, TokenSource


class Server:
    """A server of the list, with what its sends read (a plain class: see health.py)."""

    __slots__ = ("address", "config", "health", "name", "session_options")

    def __init__(
        self, config: ServerEntryView, options: SessionOptions, health: ServerHealth
    ) -> None:
        self.config = config
        self.session_options = options
        self.health = health
        self.address = config.address  # host:port, computed once (it is read on every send)
        self.name = config.label or self.address  # the label, else the address


def build_server(
    config: ConfigView,
    server: ServerEntryView,
    token_provider: TokenProvider | None,
    address_policy: AddressPolicy | None,
) -> Server:
    """`server` of `config` ready to send: its credentials checked, its TLS context and token
    source built, its health counters started."""
    allow_files = not config.disable_file_access
    oauth2 = server.auth.type == "oauth2"
    source = _token_source(config, server, token_provider) if oauth2 else None
    missing = server.auth.missing_credentials
    if missing is not None:  # fails when the connector is built, before any connection
        raise invalid_config(f"{where(server)}: {missing}")
    if server.auth.type == "ntlm":
        from .ntlm import require_ntlm_support

        require_ntlm_support()  # a missing extra fails when the connector is built
    options = SessionOptions(
        ssl_context=(
            build_ssl_context(server, allow_files=allow_files) if may_use_tls(server) else None
        ),
        token_source=source,
        pipelining=config.pipelining,
        refuse_private_hosts=config.refuse_private_hosts,
        address_policy=address_policy,
    )
    return Server(server, options, ServerHealth(server.label or server.address, config.health))


def _token_source(
    config: ConfigView, server: ServerEntryView, token_provider: TokenProvider | None
) -> TokenSource:
    from .oauth import TokenSource
    from .token_fetch import UrlPolicy

    policy = UrlPolicy(
        allow=not config.disable_url_access, refuse_private=config.refuse_private_hosts
    )
    return TokenSource(
        server.auth,
        token_provider,
        policy,
        allow_files=not config.disable_file_access,
        where=where(server),
    )


def where(server: ServerEntryView) -> str:
    """How a config error names a server's auth: `auth` for the top-level server (priority 0
    without a label), else the server's label or address."""
    if server.priority == 0 and not server.label:
        return "`auth`"
    return f"`auth` of server {server.label or server.address}"
