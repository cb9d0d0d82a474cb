"""A template as the config holds it: Logto's `{usageType, contentType, subject, content}` plus
`locale` and `textContent`/`htmlContent`, and the `replyTo`/`sendFrom` of Logto's template
details. Choosing and rendering one is compose's job.

Annotations here are evaluated when a class is declared (no `from __future__ import
annotations`): pydantic would `compile` each string one (tests/config/test_annotations.py).
"""

from collections.abc import Iterator

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ..usage import ContentType
from .base import ConfigModel, check_address
from .plain import is_templated
from .rules import TemplateRules

ADDRESS_KEYS = {"send_from": "sendFrom", "reply_to": "replyTo"}


class EmailTemplate(ConfigModel, TemplateRules):
    """One template, keyed by usage type (and optionally locale).

    Logto's shape is `{usageType, contentType, subject, content}`. Additions: `locale`, and
    `textContent`/`htmlContent` so one template yields a multipart/alternative message.
    """

    usage_type: str = Field(min_length=1)
    content_type: ContentType = ContentType.TEXT
    subject: str
    content: str | None = None
    text_content: str | None = None
    html_content: str | None = None
    locale: str | None = None
    # Logto's template details: Reply-To and From of this template's mails (`fromEmail` and
    # `replyTo` of the config otherwise); either may hold placeholders.
    reply_to: str | None = None
    send_from: str | None = None

    @field_validator("reply_to", "send_from")
    @classmethod
    def _address_shape(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A literal address is checked like `fromEmail` (special-use domains by the config,
        which knows `allowSpecialUseDomains`); a templated one can only be checked once
        rendered, but a line break in its source is refused now."""
        if not value:
            return None
        key = ADDRESS_KEYS[str(info.field_name)]
        if is_templated(value):
            if any(c in value for c in "\r\n\x00"):
                raise ValueError(f"`{key}` must be one line (no CR, LF or NUL)")
        else:
            check_address(value, key, allow_special_use=True)
        return value

    @model_validator(mode="after")
    def _has_body(self) -> "EmailTemplate":
        if not (self.content or self.text_content or self.html_content):
            raise ValueError(
                f"template {self.usage_type!r} has no body: set `content` "
                "(with contentType) or `textContent`/`htmlContent`"
            )
        return self


def literal_addresses(template: EmailTemplate) -> Iterator[tuple[str, str]]:
    """(`sendFrom`/`replyTo`, value) for each address of `template` written without
    placeholders: those are checked once, when loaded."""
    for attribute, key in ADDRESS_KEYS.items():
        value = getattr(template, attribute)
        if value and not is_templated(value):
            yield key, value
