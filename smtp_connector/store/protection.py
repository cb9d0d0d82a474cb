"""The rule that keeps a stored password where it was typed for.

A person who saved a password chose where it goes (host, port), as whom (username) and how it
is protected on the way (security mode, AUTH mechanism, certificate checks, trusted CA). Anyone
who can edit the definition later — another admin, a tenant key, a console that sends every
field back — must not be able to change any of that and have the stored password follow:
`security: "none"` alone would put it on the wire in base64 to whoever answers. So a change to
any of those settings, while the definition would still send the stored password, needs the
password again. Saves (every dialect's) and test sends that reuse a stored secret both call
`refuse_secret_travel`: the rule is stated once, as the property it protects.
"""

from __future__ import annotations

from typing import Any

from .errors import invalid
from .tables import DefinitionRow

# Where the password goes and how it travels; wire (camelCase) names for messages.
TRANSPORT_FIELDS: dict[str, str] = {
    "host": "host",
    "port": "port",
    "username": "username",
    "security": "security",
    "auth": "auth",
    "ntlm": "ntlm",
    "tls_ca": "tlsCa",
    "verify_certificate": "verifyCertificate",
}


def transport_of(row: DefinitionRow) -> dict[str, Any]:
    """The transport settings of `row`, normalised ("" and None are the same empty value)."""
    return {name: getattr(row, name) or None for name in TRANSPORT_FIELDS}


def sends_password(row: DefinitionRow) -> bool:
    """True when a send through `row` would present its stored password."""
    return bool(row.auth and row.username and row.password_enc)


def refuse_secret_travel(
    before: dict[str, Any], after: DefinitionRow, *, new_password: bool, test: bool = False
) -> None:
    """Refuse `after` when it would send a stored password under transport settings other than
    `before` (the stored ones) and no new password was given. `test` words the refusal for a
    test send with unsaved settings."""
    if new_password or not sends_password(after):
        return
    now = transport_of(after)
    changed = [wire for name, wire in TRANSPORT_FIELDS.items() if now[name] != before[name]]
    if not changed:
        return
    fields = ", ".join(f"`{name}`" for name in changed)
    if test:
        raise invalid(
            f"This test uses a different {fields} than the stored definition: a stored password "
            "only travels to the server, user and protection it was saved with. Send the "
            "`password` itself to test other settings."
        )
    raise invalid(
        f"Changing {fields} needs the password again: a stored password only travels to the "
        "server, user and protection it was saved with. Send `password` with the change (or "
        '"" to clear it).'
    )
