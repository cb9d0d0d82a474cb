"""`/v1/templates`: what the service's mails look like, per usage type and locale, read-only.

The library's shipped templates, the last steps of every app's chain, rendered with a sample
code: the admin page shows the HTML in a sandboxed iframe and the text part beside it, and a
person can see the Spanish sign-in mail before a user does. With `?appId=` the preview goes
through that app's own connector, as its sends do (its templates, sender and application
name). An app's own templates and their editor's preview: `/v1/apps/{id}/templates`
(app_templates.py).
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from smtp_connector.addresses import Address
from smtp_connector.compose.shipped import shipped_locales
from smtp_connector.errors import TemplateWarning
from smtp_connector.usage import CODELESS_USAGE_TYPES, UsageType

if TYPE_CHECKING:
    from smtp_connector import SmtpConnector

from ..deps import Reader, ServiceDep
from ..errors import NATIVE_ERRORS

router = APIRouter(prefix="/v1/templates", tags=["templates"], responses=NATIVE_ERRORS)

SAMPLE_CODE = "123456"
SAMPLE_LINK = "https://example.com/invitation/accept?token=example"
_USAGE = r"^[A-Za-z][A-Za-z0-9_-]{0,99}$"
_LOCALE = r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8}){0,3}$"
_ONE_LINE = r"^[^\r\n\x00]*$"


class TemplateOptions(BaseModel):
    usageTypes: list[str]
    locales: list[str]
    defaultLocale: str


class Preview(BaseModel):
    usageType: str
    locale: str | None
    subject: str
    text: str | None
    html: str | None
    fromAddress: str | None = Field(
        default=None, description="the From header a send through `appId` would carry"
    )


@lru_cache(maxsize=1)
def _connector() -> SmtpConnector:
    """One connector that never connects: building it compiles every template, once (and
    loads the connector, which `serve` does not import at start)."""
    from smtp_connector.connector import SmtpConnector

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TemplateWarning)
        return SmtpConnector({"host": "localhost", "fromEmail": "no-reply@example.com"})


def _header(address: Address) -> str:
    """`Name <local@domain>` as the From header shows it (quoted where RFC 5322 needs it)."""
    from email.headerregistry import Address as HeaderAddress  # with the first preview

    mailbox = HeaderAddress(address.display_name, address.local, address.domain)
    return str(mailbox)


@router.get("", response_model=TemplateOptions)
async def options(actor: Reader) -> TemplateOptions:
    return TemplateOptions(
        usageTypes=[u.value for u in UsageType], locales=list(shipped_locales()), defaultLocale="en"
    )


@router.get("/preview", response_model=Preview)
async def preview(
    actor: Reader,
    service: ServiceDep,
    usage_type: Annotated[str, Query(alias="usageType", pattern=_USAGE)] = "SignIn",
    locale: Annotated[str | None, Query(pattern=_LOCALE, max_length=35)] = None,
    code: Annotated[str, Query(min_length=1, max_length=64, pattern=_ONE_LINE)] = SAMPLE_CODE,
    app_name: Annotated[
        str | None, Query(alias="appName", max_length=200, pattern=_ONE_LINE)
    ] = None,
    app_id: Annotated[
        str | None,
        Query(
            alias="appId",
            max_length=64,
            description="render as a send through this app "
            "would: its templates, application name and sender (409 without an active "
            "server); `appName` is then ignored",
        ),
    ] = None,
) -> Preview:
    """The subject, text and HTML a user would get (the locale fallback chain applies: the
    answer's `locale` is the one chosen). Invitations get an example link instead of a code."""
    payload: dict[str, Any] = {"code": code}
    if usage_type in CODELESS_USAGE_TYPES:
        payload["link"] = SAMPLE_LINK
    if app_name and app_id is None:
        payload["application"] = {"name": app_name}
    if app_id is not None:  # the app's own connector: what its sends render
        rendered = await service.messages.render(actor, app_id, usage_type, payload, locale)
    else:
        with warnings.catch_warnings():  # a custom usage type is allowed; the fallback shows
            warnings.simplefilter("ignore", TemplateWarning)
            rendered = _connector().render(usage_type, payload, locale=locale)
    return Preview(
        usageType=rendered.usage_type,
        locale=rendered.locale,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        fromAddress=_header(rendered.from_address) if app_id is not None else None,
    )
