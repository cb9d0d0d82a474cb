"""`limit` and `cursor` on the native list routes, and the next page as an RFC 8288 `Link`
header (as GitHub's API does), so the body stays the plain array existing clients read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, Response

from smtp_connector.store.pages import DEFAULT_LIMIT, MAX_LIMIT, Page

Limit = Annotated[
    int,
    Query(ge=1, le=MAX_LIMIT, description=f"items per page (default {DEFAULT_LIMIT})"),
]
Cursor = Annotated[
    str | None,
    Query(max_length=2048, description='from the previous page\'s `Link: <…>; rel="next"`'),
]
LINKED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Link": {
                "description": 'the next page, when there is one: `<URL>; rel="next"` (RFC '
                "8288); no header on the last page",
                "schema": {"type": "string"},
            }
        }
    }
}


def link_next(request: Request, response: Response, page: Page[Any], limit: int) -> None:
    """Point at the next page: this URL with its other parameters, `limit` and the cursor."""
    if page.next_cursor is not None:
        url = request.url.include_query_params(limit=limit, cursor=page.next_cursor)
        response.headers["Link"] = f'<{url}>; rel="next"'
