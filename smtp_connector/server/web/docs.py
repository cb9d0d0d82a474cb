"""The API docs, `/docs` (Swagger UI) and `/redoc` (ReDoc), with every script from this origin.

FastAPI's own pages load Swagger UI and ReDoc from a public CDN: a floating version, no
integrity check, on the origin where the admin page keeps its API key in sessionStorage
(finding 13). Here the assets come from the `fastapi-offline` package (a dependency of the
`server` extra: Swagger UI's and ReDoc's distribution files, refreshed with their releases),
are served under `/docs/assets/`, and the pages carry a Content-Security-Policy that allows
scripts, styles, images and requests from this origin only. The pages hold no inline script
(each starts its viewer from `/static/docs-*.js`); inline styles are allowed because both
viewers set them at run time, and ReDoc's search runs in a `blob:` worker.

Without `fastapi-offline` installed the two pages are not served (`/openapi.json` still is).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from html import escape
from importlib.resources import files
from importlib.util import find_spec

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response

from ..errors import ApiFailure, Failure
from .pages import HEADERS

ASSETS_PACKAGE = "fastapi_offline"
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
}
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src blob:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
DOCS_HEADERS = HEADERS | {"Content-Security-Policy": CSP}
ASSET_HEADERS = DOCS_HEADERS | {"Cache-Control": "max-age=3600"}
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="/docs/assets/favicon.png">
{head}
</head>
<body>
<div id="{element}" data-openapi="{openapi}"></div>
<script src="/docs/assets/{bundle}"></script>
<script type="module" src="/static/{starter}"></script>
</body>
</html>
"""

log = logging.getLogger("smtp_connector.server")
router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _assets() -> dict[str, bytes]:
    """The package's asset files by name, read once; only these names are ever served."""
    folder = files(ASSETS_PACKAGE).joinpath("static")
    return {
        item.name: item.read_bytes()
        for item in folder.iterdir()
        if item.is_file() and any(item.name.endswith(ext) for ext in ASSET_TYPES)
    }


def _page(title: str, element: str, bundle: str, starter: str, head: str = "") -> HTMLResponse:
    html = PAGE.format(title=escape(title), head=head, element=element,
                       openapi="/openapi.json", bundle=bundle, starter=starter)  # fmt: skip
    return HTMLResponse(html, headers=DOCS_HEADERS)


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    css = '<link rel="stylesheet" href="/docs/assets/swagger-ui.css">'
    return _page("smtp-connector API - Swagger UI", "swagger-ui", "swagger-ui-bundle.js",
                 "docs-swagger.js", css)  # fmt: skip


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    return _page("smtp-connector API - ReDoc", "redoc", "redoc.standalone.js", "docs-redoc.js")


@router.get("/docs/assets/{name}")
async def asset(name: str) -> Response:
    content = _assets().get(name)
    if content is None:
        raise ApiFailure(Failure(404, "not_found", f"No docs asset {name!r}."))
    kind = ASSET_TYPES["." + name.rsplit(".", 1)[-1]]
    return Response(content, media_type=kind, headers=ASSET_HEADERS)


def install(app: FastAPI) -> None:
    if find_spec(ASSETS_PACKAGE) is None:
        log.warning("/docs and /redoc are off: install fastapi-offline (the `server` extra)")
        return
    app.include_router(router)
