"""A config of core fields only, checked without pydantic: a first send's config.

Importing pydantic and declaring the models is about 560 of a cold start's ~930 million
instructions, and a usual first send's config (`host`, `port`, `fromEmail`, `fromName`,
`ignoreTLS`, `auth: {user, pass}`, Logto's `templates` …) uses none of what the models are for.
`plain_config` accepts a dict only when it is *obviously* valid: every key a core field's
(`CORE_FIELDS`), of a plain type and a value that no model validator could refuse or change.
Anything else (an unknown key, a snake_case name, a wrong type, a value it is not sure of,
flags that would warn, a template it is not sure of) makes it answer None, and the caller
validates with `SmtpConfig` as before, so every error message and warning is the model's own,
by construction: this module writes none.

What it accepts becomes a `PlainConfig` (records.py); tests/config/test_core_config.py and
test_core_templates.py hold, by hypothesis, every accepted dict equal to its validated model.
`SmtpConnector.config` still answers the model, validated from the same dict on first access.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..addresses import parse_address
from ..errors import ConnectorError
from ..ports import DEFAULT_SUBMISSION_PORT
from ..usage import KNOWN_USAGE_TYPES, ContentType
from .records import ConfigTemplate, PlainAuth, PlainConfig, PlainSecret
from .rules import is_bare_host, is_port

# Logto's template keys, each `EmailTemplate` field's alias; `contentType` may be left out
# (the model's default, text/plain). Any other key (`locale`, `textContent`, `sendFrom` …)
# leaves the config to the model.
TEMPLATE_KEYS = frozenset({"usageType", "contentType", "subject", "content"})
CONTENT_TYPES = {member.value: member for member in ContentType}  # exactly as the model reads
MAX_PLAIN_TEMPLATES = 64  # more: the model's (a plain check costs what it saves, unbounded)


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def _host(value: Any) -> bool:
    """What `ServerSettings._host_shape` keeps as it is (it strips, then checks the shape)."""
    return type(value) is str and value.strip() == value and is_bare_host(value)


def _port(value: Any) -> bool:
    return type(value) is int and is_port(value)


def _secure(value: Any) -> bool:
    return value is None or type(value) is bool


def _from_email(value: Any) -> bool:
    """`SmtpConfig._valid_from` without special-use domains allowed (the model's default)."""
    if type(value) is not str:
        return False
    try:
        parse_address(value, what="fromEmail")
    except ConnectorError:
        return False
    return True


def _from_name(value: Any) -> bool:
    """A name `check_display_name` leaves as it is (it refuses only unprintable ones)."""
    return value is None or (type(value) is str and value.isprintable())


def _auth(value: Any) -> bool:
    """`{}`, `{"user", "pass"}` both non-empty strings, or None (`ServerSettings._empty_auth`)."""
    if value is None:
        return True
    if type(value) is not dict or not value.keys() <= {"user", "pass"}:
        return False
    user, password = value.get("user"), value.get("pass")
    if user is None and password is None:
        return True
    return type(user) is str and type(password) is str and user != "" and password != ""


def _no_headers(value: Any) -> bool:
    """`customHeaders: {}`, as Logto's own config has it (`{}` is the model's default)."""
    return type(value) is dict and not value


def _template(value: Any) -> bool:
    """A template in Logto's shape that `EmailTemplate` takes as it is: plain strings, a
    known usage type, a content type spelt as the enum's value, and a body (the model refuses
    an empty one). Rendering is compose's, the same for both (placeholders, HTML, text)."""
    if type(value) is not dict or not value.keys() <= TEMPLATE_KEYS:
        return False
    usage, subject, content = value.get("usageType"), value.get("subject"), value.get("content")
    kind = value.get("contentType", ContentType.TEXT.value)
    return (
        type(usage) is str
        and usage in KNOWN_USAGE_TYPES
        and type(subject) is str
        and type(content) is str
        and content != ""
        and type(kind) is str
        and kind in CONTENT_TYPES
    )


def _templates(value: Any) -> bool:
    return (
        type(value) is list
        and len(value) <= MAX_PLAIN_TEMPLATES
        and all(_template(item) for item in value)
    )


def plain_templates(items: list[dict[str, str]]) -> list[ConfigTemplate]:
    """The templates `_templates` passed, as `EmailTemplate` validates them."""
    return [
        ConfigTemplate(
            usage_type=item["usageType"],
            subject=item["subject"],
            content=item["content"],
            content_type=CONTENT_TYPES[item.get("contentType", ContentType.TEXT.value)],
        )
        for item in items
    ]


# The core fields: JSON key → (attribute, the check of an obviously valid value). Each key is
# its model field's alias (tests/config/test_core_config.py).
CORE_FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "host": ("host", _host),
    "port": ("port", _port),
    "secure": ("secure", _secure),
    "requireTLS": ("require_tls", _is_bool),
    "ignoreTLS": ("ignore_tls", _is_bool),
    "fromEmail": ("from_email", _from_email),
    "fromName": ("from_name", _from_name),
    "auth": ("auth", _auth),
    "logger": ("logger", _is_bool),
    "debug": ("debug", _is_bool),
    "templates": ("templates", _templates),
    "customHeaders": ("custom_headers", _no_headers),
}


def plain_config(data: Mapping[str, Any]) -> PlainConfig | None:
    """`data` as a `PlainConfig` when it is obviously valid, else None (validate it with
    `SmtpConfig`, which gives the model or the error)."""
    if type(data) is not dict or "host" not in data or "fromEmail" not in data:
        return None
    values: dict[str, Any] = {}
    for key, value in data.items():
        rule = CORE_FIELDS.get(key)
        if rule is None or not rule[1](value):
            return None
        values[rule[0]] = value
    source = dict(data)
    auth = values.pop("auth", None)
    if auth is not None:
        source["auth"] = dict(auth)
        if auth.get("user") is not None:  # `_auth`: then both are non-empty strings
            values["auth"] = PlainAuth(user=auth["user"], pass_=PlainSecret(auth["pass"]))
    templates = values.pop("templates", None)
    if templates is not None:
        source["templates"] = [dict(item) for item in templates]
        values["templates"] = plain_templates(templates)
    if values.pop("custom_headers", None) is not None:  # `{}`: the record's own fresh one
        source["customHeaders"] = {}
    if values.get("port") is None and values.get("secure") is None:
        values["port"] = DEFAULT_SUBMISSION_PORT  # `SmtpConfig._needs_a_server`'s default
    config = PlainConfig(**values, source=source)
    if config.tls_flag_notes():  # the model warns about these flags: let it
        return None
    return config
