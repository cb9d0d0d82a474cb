"""The presets' guard rails in the native API's field names, not the library's config keys.

The library writes its findings for a config file ("set secure: false", "set auth.user and
auth.pass", "`ignoreTLS: true`"): a service user has `security`, `username`, `password`,
`fromEmail` (the admin page shows those as its form's labels). One table rewrites the phrases
the presets use; a quirk about a setting the service does not have (the EHLO `name`) is left
out. tests/server/test_preset_terms.py walks every preset through the findings route and
asserts no library key is left (store/hints.py's list).
"""

from __future__ import annotations

import re

# (pattern, replacement), applied in order: the longer phrases first.
_PHRASES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), r)
    for p, r in [
        (r"set secure: true", 'set `security` to "tls"'),
        (r"set secure: false", 'set `security` to "starttls"'),
        (r"secure: true", '`security` "tls"'),
        (r"secure: false", '`security` "starttls"'),
        (
            r"`ignoreTLS: true` would send the password in clear text and the server refuses "
            r"AUTH: remove ignoreTLS\.",
            '`security` "none" would send the password in clear text and the server refuses '
            'AUTH: set `security` to "starttls".',
        ),
        (
            r"set auth\.user and auth\.pass\.",
            "turn on `auth` and fill in `username` and `password`.",
        ),
        (r"use auth\.user and auth\.pass", "use `username` and `password`"),
        (
            r"use auth\.type oauth2 with an access token or a refresh token",
            "this service logs in with `username` and `password` only, so use another provider "
            "(or an app password where the provider still offers one)",
        ),
        (r"\(auth\.user\)", "(`username`)"),
        (r"as auth\.user", "as `username`"),
        (r"auth\.user is", "`username` is"),
        (r"(?<![`\w])fromEmail(?![`\w])", "`fromEmail`"),
    ]
]
# Quirks about settings no API of the service has.
LEFT_OUT = frozenset({"ascii_ehlo_name"})


def in_api_terms(message: str) -> str:
    """`message` with the library's config keys replaced by the native API's field names."""
    for pattern, replacement in _PHRASES:
        message = pattern.sub(replacement, message)
    return message
