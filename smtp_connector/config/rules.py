"""What a server's and an auth's settings mean (implicit TLS, the port, who may AUTH in clear,
missing credentials …), written once for the pydantic models and for the plain config a first
send uses (`config/records.py`, built by `config/core.py`), which inherit them.

No pydantic here: these are read on every send, and a send whose config needs no model must
not load it (about 560 million instructions of a cold start with the models).
"""

from __future__ import annotations

from collections.abc import Set
from typing import TYPE_CHECKING, Any

from ..ports import DEFAULT_IMPLICIT_TLS_PORT, DEFAULT_SUBMISSION_PORT, IMPLICIT_TLS_PORTS
from ..usage import ContentType

# Google's token endpoint: the default `accessUrl` (and JWT audience) of a service account.
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"

# Defaults are Logto's (and nodemailer's), in milliseconds.
DEFAULT_CONNECTION_TIMEOUT_MS = 2 * 60 * 1000
DEFAULT_GREETING_TIMEOUT_MS = 30 * 1000
DEFAULT_SOCKET_TIMEOUT_MS = 10 * 60 * 1000
DEFAULT_DNS_TIMEOUT_MS = 30 * 1000
# Template sandbox: what one rendered part may weigh and how long one render may run.
DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024
DEFAULT_RENDER_TIMEOUT_MS = 1000


def is_port(value: int) -> bool:
    """A TCP port a server can listen on."""
    return 1 <= value <= 65535


def is_bare_host(value: str) -> bool:
    """A host name or IP address as given (already stripped): not empty, and no whitespace or
    '/' (a URL, a path or two values pasted together)."""
    return bool(value) and not any(c in value for c in " \r\n\t/")


class AuthRules:
    """The meaning of `auth`'s fields (`AuthConfig`, `records.PlainAuth`)."""

    if TYPE_CHECKING:  # the fields, declared by the classes that inherit the rules
        type: str | None
        user: str | None
        pass_: Any
        method: str | None
        access_token: Any
        client_id: str | None
        refresh_token: Any
        access_url: str | None
        private_key: Any
        service_client: str | None

    def _has_oauth_fields(self) -> bool:
        return any(
            v is not None
            for v in (self.access_token, self.refresh_token, self.client_id, self.private_key)
        )

    @property
    def enabled(self) -> bool:
        """True when AUTH should be attempted at all (oauth2 always has a user)."""
        return bool(self.user) or self._has_oauth_fields()

    @property
    def missing_credentials(self) -> str | None:
        """Why a login (PLAIN/LOGIN/CRAM-MD5) cannot be attempted, or None. User and password
        go together: without either (`{}`, or Logto's `{type: "login"}` for a relay that
        authorises by address) no AUTH is sent; with one only, nodemailer fails locally
        ("Missing credentials") and so does the connector, when it is built, rather than send
        AUTH PLAIN with an empty password. Logto's schema accepts such a config, so it loads."""
        if self.type != "login":
            return None
        user, password = bool(self.user), bool(self.password)
        if user == password and (user or self.method is None):
            return None
        if not user and not password:
            missing = f"`auth.method` {self.method} is set but `auth.user` and `auth.pass` are not"
        elif user:
            missing = "`auth.user` is set but `auth.pass` is missing or empty"
        else:
            missing = "`auth.pass` is set but `auth.user` is missing or empty"
        return (
            f"Missing credentials for {self.method or 'login (PLAIN/LOGIN/CRAM-MD5)'}: {missing}. "
            "Give both, or leave `auth` out (or `{}`) for a relay that needs no AUTH."
        )

    @property
    def has_token_source(self) -> bool:
        """oauth2 has a way to a token of its own: a token, a refresh flow or a service
        account (a caller's token_provider is the other way, known to the connector)."""
        return self.access_token is not None or self.can_refresh

    @property
    def password(self) -> str | None:
        return self.pass_.get_secret_value() if self.pass_ is not None else None

    @property
    def uses_service_account(self) -> bool:
        """Logto's service-account form: a JWT signed with `privateKey` buys the token."""
        return self.type == "oauth2" and bool(self.service_client and self.private_key)

    @property
    def token_url(self) -> str | None:
        """Where tokens come from: `accessUrl`, or Google's endpoint for a service account."""
        if self.access_url:
            return self.access_url
        return GOOGLE_TOKEN_URL if self.uses_service_account else None

    @property
    def can_refresh(self) -> bool:
        """A new token can be fetched: the refresh-token flow or a service account."""
        refresh = bool(self.refresh_token and self.client_id and self.access_url)
        return refresh or self.uses_service_account

    @property
    def fetches_tokens(self) -> bool:
        """True when this auth would fetch a token from a URL (a URL access)."""
        return self.type == "oauth2" and self.can_refresh


class TlsRules:
    """The meaning of `tls`'s options (`TlsOptions`, `records.PlainTls`)."""

    if TYPE_CHECKING:  # declared by the classes that inherit the rule

        @property
        def options_given(self) -> Set[str]:
            """The names of the options the config gave, at any value (Node's options the
            model keeps unused included); none for `tls: {}`, `tls: null` or no `tls`."""

    @property
    def any_given(self) -> bool:
        """The config gave a `tls` option, any, even at its default value. A server that will
        never use TLS (`ignoreTLS` on a plain port) still gets its context built then, so a bad
        CA or key is refused when the connector is built, as for every other server
        (delivery/tls.py's `may_use_tls`)."""
        return bool(self.options_given)


class ServerRules:
    """The meaning of a server's connection fields (`ServerSettings`, `records.PlainServer`)."""

    if TYPE_CHECKING:  # the fields, declared by the classes that inherit the rules
        host: str | None
        port: int | None
        secure: bool | None
        require_tls: bool
        ignore_tls: bool
        servername: str | None
        tls: Any

    @property
    def implicit_tls(self) -> bool:
        """Implicit TLS from the first byte: `secure: true`, or port 465 when `secure` is unset."""
        if self.secure is not None:
            return self.secure
        return self.port in IMPLICIT_TLS_PORTS

    @property
    def effective_port(self) -> int:
        if self.port is not None:
            return self.port
        return DEFAULT_IMPLICIT_TLS_PORT if self.secure else DEFAULT_SUBMISSION_PORT

    @property
    def clear_auth_allowed(self) -> bool:
        """AUTH may go over a connection without TLS. Only `ignoreTLS: true` says so, and not
        when `requireTLS` is set as well: nodemailer then skips STARTTLS (`ignoreTLS` wins),
        but a config that also asks for TLS is no leave to send credentials in clear."""
        return self.ignore_tls and not self.require_tls

    def tls_flag_notes(self, where: str = "") -> list[str]:
        """What flags that cancel each other will do, for a `ConfigWarning` at load (Logto
        accepts these combinations, so they load; nodemailer decides which flag wins)."""
        if not self.ignore_tls:
            return []
        if self.implicit_tls:
            return [
                f"`{where}ignoreTLS` has no effect with implicit TLS (`secure: true` or port "
                "465): the connection is TLS from the first byte, as in nodemailer"
            ]
        if self.require_tls:
            return [
                f"`{where}ignoreTLS` and `{where}requireTLS` are both set: as in nodemailer, "
                "`ignoreTLS` wins and STARTTLS is never tried, so mail goes out unencrypted; "
                "and since `requireTLS` asks for TLS, no AUTH is sent in clear (with `auth` "
                "set, sends fail with tls_failed). Drop `requireTLS` to allow AUTH without TLS "
                "on a trusted network, or drop `ignoreTLS` to use STARTTLS"
            ]
        return []

    @property
    def tls_server_name(self) -> str | None:
        return self.tls.servername or self.servername or self.host

    @property
    def address(self) -> str:
        """`host:port`, the server's name in results and errors."""
        return f"{self.host}:{self.effective_port}"


class TemplateRules:
    """Which source is a template's text and HTML body (`EmailTemplate`, the records'
    `PlainTemplate`)."""

    if TYPE_CHECKING:  # the fields, declared by the classes that inherit the rules
        usage_type: str
        content_type: ContentType
        content: str | None
        text_content: str | None
        html_content: str | None
        locale: str | None

    @property
    def text_source(self) -> str | None:
        """The plain-text body source, from `textContent` or a text/plain `content`."""
        if self.text_content is not None:
            return self.text_content
        return self.content if self.content_type is ContentType.TEXT else None

    @property
    def html_source(self) -> str | None:
        if self.html_content is not None:
            return self.html_content
        return self.content if self.content_type is ContentType.HTML else None

    @property
    def label(self) -> str:
        return f"{self.usage_type}/{self.locale}" if self.locale else self.usage_type
