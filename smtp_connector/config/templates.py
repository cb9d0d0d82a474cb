"""A template as the config holds it: Logto's `{usageType, contentType, subject, content}` plus
`locale` and `textContent`/`htmlContent`. Choosing and rendering one is compose's job."""

from __future__ import annotations

from pydantic import Field, model_validator

from ..usage import ContentType
from .base import ConfigModel


class EmailTemplate(ConfigModel):
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

    @model_validator(mode="after")
    def _has_body(self) -> EmailTemplate:
        if not (self.content or self.text_content or self.html_content):
            raise ValueError(
                f"template {self.usage_type!r} has no body: set `content` "
                "(with contentType) or `textContent`/`htmlContent`"
            )
        return self

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
