"""One mapping from the library's error (code + cause) to a message and a hint in the field
names of the API that was called.

The library's messages advise in its own config keys ("Set `secure: false`", "give the CA in
`tls.ca`", "check auth.user and auth.pass"), which no API of the service has. Here the message
says what happened (from the error's facts: server, SMTP reply, `reason`) and the hint what to
change, both chosen by the error's `cause` — an untrusted certificate and a port/TLS mismatch
are both `tls_failed`, and need different advice — and written with a `Terms`: the native API's
(`NATIVE`) or a dialect's (each dialect module has its own). A message that would still carry
a library key (an error without a cause) is replaced by a plain one naming the error's code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from smtp_connector.errors import Cause, ConnectorError, ErrorCode


@dataclass(frozen=True)
class Terms:
    """How one API names the settings a hint talks about. Phrases are written with the native
    API's field names in backticks; `names` renames them (ours → the API's) and a name mapped to
    "" is a setting this API does not have."""

    names: Mapping[str, str] = field(default_factory=dict)
    implicit_tls: str = 'set `security` to "tls"'
    starttls: str = 'set `security` to "starttls"'
    plain: str = 'set `security` to "none"'
    no_login: str = "set `auth` to false"
    trust_ca: str = (
        "give the CA that issued it in `tlsCa` (PEM text), or, for a test server only, set "
        "`verifyCertificate` to false"
    )
    sender: str = "set `fromEmail` on the definition or on its app (PATCH /v1/apps/{id})"
    special_use: str = "set `allowSpecialUseDomains` on the definition (a local relay only)"
    timeout: str = "raise `timeout`"  # "" where the API has no timeout
    sender_field: str = "`fromEmail` (or the app's)"

    def rename(self, text: str) -> str:
        table = {**{_camel(k): v for k, v in self.names.items()}, **self.names}
        return _BACKTICKED.sub(lambda m: f"`{table.get(m.group(1)) or m.group(1)}`", text)


NATIVE = Terms()
# The ways to trust a private CA live in the native API only (no dialect's seed has them).
NATIVE_ONLY_CA = (
    "this API has no certificate settings: give the CA in the native API's `tlsCa` for this "
    "definition (PATCH /v1/apps/{app}/servers/{id}), or use a certificate from a public CA"
)


@dataclass(frozen=True)
class Explained:
    message: str
    hint: str | None


def explain(error: ConnectorError, terms: Terms = NATIVE) -> Explained:
    """`error`'s message and hint in `terms`' names."""
    written = _by_cause(error.cause, _Facts(error), terms) if error.cause else None
    if written is None and error.code is ErrorCode.ALL_SERVERS_FAILED:
        written = _each_server(error, terms)
    message, hint = written if written is not None else (error.message, None)
    message, hint = terms.rename(message), terms.rename(hint) if hint else None
    if library_keys(message):
        message = _plain(error)
    return Explained(message, hint)


def error_fields(error: ConnectorError) -> dict[str, object]:
    """The error as the native API shows it wherever it keeps one (a definition's `lastError`,
    a queued message's): code, cause, message and hint in the API's terms, SMTP reply code and
    server — nothing secret, as the library redacts registered secrets from every message."""
    explained = explain(error)
    return {
        "code": error.code.value,
        "cause": error.cause.value if error.cause else None,
        "message": explained.message,
        "hint": explained.hint,
        "smtpCode": error.smtp_code,
        "server": error.server,
    }


# The library's config keys that no API of the service has (in any spelling a message uses).
LIBRARY_KEYS = frozenset({
    "secure", "requireTLS", "ignoreTLS", "tls", "tls.ca", "tls.rejectUnauthorized",
    "tls.minVersion", "tls.maxVersion", "tls.ciphers", "tls.cert", "tls.key", "servername",
    "auth.user", "auth.pass", "auth.type", "connectionTimeout", "greetingTimeout",
    "socketTimeout", "dnsTimeout", "refusePrivateHosts", "maxPayloadBytes", "maxOutputBytes",
    "defaultFromEmail", "servers[].defaultFromName", "retry.deadline", "localAddress",
    "rejectUnauthorized", "templates", "secure: true", "secure: false", "ignoreTLS: true",
    "tls.rejectUnauthorized: false", "allowSpecialUseDomains: true",
})  # fmt: skip
_BACKTICKED = re.compile(r"`([^`\n]{1,60})`")


def _each_server(error: ConnectorError, terms: Terms) -> tuple[str, str | None] | None:
    """Failover: each server's failure explained (from `details`, the library's per-server
    `to_dict()`), the first one's hint. None when the details are not per-server errors."""
    details = error.details if isinstance(error.details, dict) else {}
    failures = [d for d in details.values() if isinstance(d, dict) and "code" in d]
    if not failures:
        return None
    explained = [explain(rebuilt(failure), terms) for failure in failures]
    listing = " ".join(item.message for item in explained)
    hints = [item.hint for item in explained if item.hint]
    return f"All {len(failures)} SMTP servers failed. {listing}", hints[0] if hints else None


def rebuilt(failure: Mapping[str, object]) -> ConnectorError:
    """The error that `ConnectorError.to_dict()` described (a failover's `details`, a log
    record's `connector_error`), with what `explain` reads."""

    def text(key: str) -> str | None:
        value = failure.get(key)
        return value if isinstance(value, str) else None

    code = failure.get("smtp_code")
    return ConnectorError(
        ErrorCode(str(failure["code"])), text("message") or "", server=text("server"),
        smtp_code=code if isinstance(code, int) else None, cause=text("cause"),
        reason=text("reason"), server_message=text("server_message"),
    )  # fmt: skip


def library_keys(text: str) -> list[str]:
    """The library config keys `text` names in backticks (or, for the AUTH pair, bare)."""
    found = [m.group(1) for m in _BACKTICKED.finditer(text) if m.group(1) in LIBRARY_KEYS]
    return found + [k for k in ("auth.user", "auth.pass") if k in text and k not in found]


def _plain(error: ConnectorError) -> str:
    where = f" with {error.server}" if error.server else ""
    reply = f": {error.smtp_code} {error.server_message}" if error.server_message else "."
    return f"{error.code.value.replace('_', ' ').capitalize()}{where}{reply}"


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


@dataclass(frozen=True)
class _Facts:
    error: ConnectorError

    @property
    def server(self) -> str:
        return self.error.server or "the server"

    @property
    def port(self) -> str:
        return self.server.rpartition(":")[2] if self.error.server else "this port"

    @property
    def reason(self) -> str:
        return self.error.reason or self.error.server_message or ""

    def because(self) -> str:
        return f" ({self.reason})" if self.reason else ""


def _tls(f: _Facts, t: Terms) -> dict[Cause, tuple[str, str | None]]:
    p = f.port
    return {
        Cause.CERTIFICATE_UNTRUSTED: (
            f"The certificate of {f.server} is not trusted{f.because()}.",
            f"If the server uses a private CA, {t.trust_ca}.",
        ),
        Cause.CERTIFICATE_EXPIRED: (
            f"The certificate of {f.server} has expired{f.because()}.",
            "Renew the certificate on the server; nothing in these settings fixes it.",
        ),
        Cause.HOSTNAME_MISMATCH: (
            f"The certificate of {f.server} is for another name{f.because()}.",
            "Set `host` to a name the certificate lists (the provider's documented SMTP host), "
            "not an IP address or an alias.",
        ),
        Cause.TLS_PORT_MISMATCH: (
            f"TLS from the first byte failed with {f.server}: port {p} speaks plain SMTP.",
            f"For port {p}, {t.starttls}; or use the server's implicit-TLS port (usually 465) "
            f"and {t.implicit_tls}.",
        ),
        Cause.IMPLICIT_TLS_REQUIRED: (
            f"{f.server} sent no SMTP greeting but answers a TLS handshake: port {p} expects TLS "
            "from the first byte.",
            f"For port {p}, {t.implicit_tls}; or use the server's STARTTLS port (usually 587) "
            f"and {t.starttls}.",
        ),
        Cause.STARTTLS_MISSING: (
            f"{f.server} does not offer STARTTLS.",
            f"Use the server's implicit-TLS port (usually 465) and {t.implicit_tls}; on a "
            f"trusted network only, {t.plain}.",
        ),
        Cause.TLS_HANDSHAKE_FAILED: (
            f"TLS with {f.server} failed{f.because()}.",
            "The server refused what was offered (TLS version or ciphers): check its TLS "
            "settings, or try its other TLS port.",
        ),
    }


def _auth(f: _Facts, t: Terms) -> dict[Cause, tuple[str, str | None]]:
    return {
        Cause.AUTH_NOT_OFFERED: (
            f"{f.server}: {f.reason or 'AUTH is not offered'}; the login cannot be used.",
            f"For a relay that accepts this service without a login, {t.no_login}. If it "
            "should offer AUTH, many servers do so only after TLS: check the TLS setting and "
            "`port`.",
        ),
        Cause.AUTH_REFUSED: (
            f"{f.server} refused the login{_reply(f)}",
            "Check `username` and `password`; many providers want an app password, not the "
            "account's.",
        ),
    }


def _reply(f: _Facts) -> str:
    return f": {f.reason}." if f.reason else "."


def _network(f: _Facts, t: Terms) -> dict[Cause, tuple[str, str | None]]:
    return {
        Cause.DNS_FAILURE: (
            f"The host of {f.server} does not resolve{f.because()}.",
            "Check the spelling of `host`.",
        ),
        Cause.CONNECTION_REFUSED: (
            f"{f.server} refused the connection: nothing listens on that port.",
            "Check `host` and `port` (587 for STARTTLS, 465 for TLS from the first byte, 25 "
            "for relays).",
        ),
        Cause.NETWORK_UNREACHABLE: (
            f"{f.server} cannot be reached{f.because()}.",
            "Check `host`, and the network between this service and the server.",
        ),
        Cause.CONNECT_TIMEOUT: (
            f"{f.server} did not answer the connection in time.",
            "Check `host` and `port`, and that a firewall lets this service reach them.",
        ),
        Cause.GREETING_TIMEOUT: (
            f"{f.server} accepted the connection but sent no SMTP greeting in time.",
            "Check `port`: the service there may not be SMTP, or the server is overloaded.",
        ),
        Cause.REPLY_TIMEOUT: (
            f"{f.server} stopped answering{f.because()}.",
            "Retry later" + (f"; if it keeps happening, {t.timeout}." if t.timeout else "."),
        ),
        Cause.NOT_SMTP: (
            f"What answers at {f.server} is not an SMTP server, or not on this port.",
            "Check `host` and `port`.",
        ),
        Cause.CONNECTION_LOST: (
            f"{f.server}: the connection was lost{f.because()}.",
            "Retry; if it keeps happening, look at the server's logs.",
        ),
        Cause.REPLY_LOST: (
            f"{f.server}: the connection dropped after the message was sent and before the "
            "server confirmed it; it may or may not have been delivered.",
            "Check whether it arrived before sending it again.",
        ),
        Cause.SERVER_CLOSING: (
            f"{f.server} is closing the session{_reply(f)}",
            "Retry later.",
        ),
        Cause.ADDRESS_REFUSED: (
            f"{f.server} {f.reason or 'resolves to a refused address'}: this service's network "
            "policy refuses it.",
            "Use a host on an address the service may reach; the operator sets which in "
            "SMTP_CONNECTOR_NETWORK_POLICY.",
        ),
    }


def _transaction(f: _Facts, t: Terms) -> dict[Cause, tuple[str, str | None]]:
    return {
        Cause.SENDER_REFUSED: (
            f"{f.server} refused the sender{_reply(f)}",
            f"Providers accept only senders the account may use: check {t.sender_field}.",
        ),
        Cause.RECIPIENT_REFUSED: (f.error.message, "Check the recipient's address."),
        Cause.MESSAGE_REFUSED: (f"{f.server} refused the message{_reply(f)}", None),
        Cause.RATE_LIMITED: (f.error.message, "Slow down and retry after the time given."),
        Cause.NO_SENDER: (
            f"The server definition{' ' + f.reason if f.reason else ''} has no sender.",
            t.sender[:1].upper() + t.sender[1:] + ".",
        ),
        Cause.SPECIAL_USE_DOMAIN: (
            f"Invalid address {f.reason}.",
            f"For a local test relay, {t.special_use}.",
        ),
        Cause.PAYLOAD_TOO_LARGE: (
            f"The payload is too large ({f.reason}): a verification mail needs only a code, a "
            "link and a few names.",
            None,
        ),
    }


_GROUPS = (_tls, _auth, _network, _transaction)


def _by_cause(cause: Cause, facts: _Facts, terms: Terms) -> tuple[str, str | None] | None:
    """The message and hint for `cause`; None for a cause whose library message is already in
    every API's terms (input refused before sending: a recipient, a payload value)."""
    for group in _GROUPS:
        written = group(facts, terms).get(cause)
        if written is not None:
            return written
    return None
