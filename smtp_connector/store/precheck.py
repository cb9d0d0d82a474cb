"""The edge check of a send, before it is answered (200) or queued (202): what the library's
`SmtpConnector.check_payload` proves, asked with the service's rule for usage types.

The rule: a usage type that is not one of Logto's and has no template of its own is refused
(422, with the did-you-mean suggestion) instead of going out with the Generic text, since it
is almost always a misspelling ("Regsiter"). A custom usage type is fine once it has a template
of its own (the definition's or, with issue 24, the app's); to send the generic mail, a caller
asks for `Generic`. Both send paths (the route and the short path) reach this through
`MessageService.send`, so they answer alike.

The first check of a template analyses its source (tens of milliseconds of CPU): on the event
loop that would stall every app's requests, once per template after each build of a connector
that has no earlier one to share its renderer with (several apps' first builds at once).
`check_preparation` hands that analysis of the template the check will choose to the service,
which runs it in a thread of its own (store/connectors.py); the check then only reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .domain import MessageRequest

if TYPE_CHECKING:
    from smtp_connector import SmtpConnector


def check_request(connector: SmtpConnector, request: MessageRequest) -> list[str]:
    """Raise the library's `ConnectorError` for a send that cannot go out as meant; return the
    warnings for the response (the caller's, not only the log's)."""
    return connector.check_payload(
        request.usage_type,
        request.payload,
        request.locale,
        to=request.to,
        allow_fallback=False,
    )


def check_preparation(
    connector: SmtpConnector, request: MessageRequest
) -> Callable[[], None] | None:
    """None when `check_request` finds its template analysed already; else that analysis, for
    the service to run in a thread first (the check itself then only reads on the loop)."""
    return connector.check_preparation(request.usage_type, request.payload, request.locale)
