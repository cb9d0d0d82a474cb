"""The validation machinery every config model shares.

Logto stores its config as camelCase JSON shaped after nodemailer's options; auth systems that
migrate must be able to paste that JSON here. So every model accepts camelCase on the wire and
snake_case in Python, rejects unknown keys by name (a typo must not silently disable TLS), keeps
secrets in `SecretStr`, and turns every validation failure into `ConnectorError(invalid_config)`
whose message names the field and never echoes the value.

Annotations here are evaluated when a class is declared (no `from __future__ import
annotations`): pydantic would `compile` each string one (tests/config/test_annotations.py).
"""

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    ValidationError,
)

from ..addresses import check_display_name, parse_address
from ..errors import ConnectorError, register_secret
from .plain import invalid_config


def _dump_secret(value: SecretStr | None, info: SerializationInfo) -> str | None:
    """Secrets serialise masked unless the caller explicitly asks to reveal them (saving config)."""
    if value is None:
        return None
    reveal = bool(info.context and info.context.get("reveal_secrets"))
    return value.get_secret_value() if reveal else "**********"


Secret = Annotated[SecretStr, PlainSerializer(_dump_secret, when_used="always")]


def to_camel(name: str) -> str:
    """camelCase alias of a field name: pydantic's `to_camel`, with the names our models have
    (lowercase ASCII words joined by `_`) done without it. Its two regular expressions and a
    substitution callback per name cost a first send about 2.6 million instructions over the
    models' 130 fields; any other name goes to pydantic's own (tests/config/test_aliases.py
    holds the two equal for every string)."""
    parts = name.split("_")
    if all(part.isascii() and part.isalpha() and part.islower() for part in parts):
        return parts[0] + "".join(part.capitalize() for part in parts[1:])
    from pydantic.alias_generators import to_camel as general

    return general(name)


def no_items() -> list[Any]:
    """A list field's `default_factory`. Not the builtin `list`: pydantic reads a factory's
    signature, and a builtin's is parsed from text by Python's tokenizer, whose regular
    expressions are then compiled, about 1 % of a first send's CPU."""
    return []


class ConfigModel(BaseModel):
    """camelCase on the wire, snake_case in Python, unknown keys refused.

    Every `Secret` field is registered for redaction as soon as a model holding it is validated:
    this is the one path by which passwords, tokens and key material reach the scrubber that
    errors, logs and CLI output go through (`errors.redact`)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        str_strip_whitespace=False,
    )

    def model_post_init(self, context: Any, /) -> None:
        for name in type(self).model_fields:
            value = getattr(self, name, None)
            if isinstance(value, SecretStr):
                register_secret(value.get_secret_value())


def check_address(value: str, field: str, *, allow_special_use: bool = False) -> None:
    """Validate one address field; the message names `field` (pydantic adds the location).
    A display name in it is held to `check_display_name` (no control characters)."""
    try:
        parse_address(value, what=field, allow_special_use=allow_special_use)
    except ConnectorError as exc:
        raise CausedValueError(exc) from None


class CausedValueError(ValueError):
    """A field check's refusal inside pydantic that keeps the library error's cause and reason,
    so the config error built from it can be explained by cause (the service words a
    special-use sender in its API's terms instead of dropping the library's advice)."""

    def __init__(self, error: ConnectorError) -> None:
        super().__init__(error.message)
        self.error = error


def check_name(value: str | None) -> str | None:
    """Validate a configured display name (`fromName`, `servers[].defaultFromName`) with the
    one display-name validator: a control character is refused (pydantic names the field)."""
    if value is not None:
        check_display_name(value, collapse=False)
    return value


MAX_LISTED = 10  # problems a config error's message names; `details` lists every one


def config_error(exc: ValidationError) -> ConnectorError:
    """Turn pydantic's errors into one actionable message naming each field (the first
    `MAX_LISTED`), without input values (which could be secrets)."""
    errors = exc.errors(include_input=False, include_url=False)
    lines = [_describe(err) for err in errors]
    caused = [
        e for err in errors if isinstance(e := err.get("ctx", {}).get("error"), CausedValueError)
    ]
    shown = "; ".join(lines[:MAX_LISTED])
    if len(lines) > MAX_LISTED:  # a pasted dump, not a config: the rest stays in `details`
        shown += f"; and {len(lines) - MAX_LISTED:,} more problems (all in the error's details)"
    config = invalid_config(shown, details=lines)
    if len(errors) == 1 and caused:  # one refusal with a known cause: keep it
        config.cause, config.reason = caused[0].error.cause, caused[0].error.reason
    return config


def _describe(err: Any) -> str:
    loc = ".".join(str(part) for part in err["loc"]) or "(config)"
    if err["type"] == "extra_forbidden":
        return f"`{loc}`: unknown key (not a Logto or smtp-connector setting; check the spelling)"
    if err["type"] == "missing":
        return f"`{loc}`: required field is missing"
    message = err["msg"].removeprefix("Value error, ")
    return f"`{loc}`: {message}"
