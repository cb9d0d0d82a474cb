"""Routes for the page and its static files, with the headers that keep it self-contained.

The Content-Security-Policy allows scripts from this origin only (no inline script, so an
injected string cannot run), no framing by other sites, and requests to this origin only.
Inline styles are allowed because the template preview is an email: its HTML carries inline
`style` attributes, and an `iframe srcdoc` inherits the page's policy (the iframe is sandboxed
without scripts, which is what keeps the email's HTML inert).
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, Response

from smtp_connector import __version__

from ..errors import ApiFailure, Failure

if TYPE_CHECKING:
    from jinja2 import Environment

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# Seconds between refreshes; `/?refresh=N` may ask for another value within these bounds.
REFRESH_SECONDS = 10
REFRESH_BOUNDS = (2, 300)

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    """Jinja loads with the page's first request: an idle `serve` (an API) never imports it."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader(__package__ or "smtp_connector.server.web", "templates"),
        autoescape=select_autoescape(["html"]),
    )


@lru_cache(maxsize=1)
def _static_files() -> dict[str, bytes]:
    """The shipped static files by name, read once; only these names are ever served."""
    folder = files(__package__ or "smtp_connector.server.web").joinpath("static")
    return {
        item.name: item.read_bytes()
        for item in folder.iterdir()
        if item.is_file() and any(item.name.endswith(ext) for ext in CONTENT_TYPES)
    }


@router.get("/", response_class=HTMLResponse)
async def page(refresh: int | None = None) -> HTMLResponse:
    low, high = REFRESH_BOUNDS
    seconds = min(max(refresh, low), high) if refresh else REFRESH_SECONDS
    template = _environment().get_template("index.html")
    html = template.render(version=__version__, refresh_seconds=seconds)
    return HTMLResponse(html, headers=HEADERS)


@router.get("/static/{name}")
async def static(name: str) -> Response:
    content = _static_files().get(name)
    if content is None:
        raise ApiFailure(Failure(404, "not_found", f"No static file {name!r}."))
    kind = CONTENT_TYPES["." + name.rsplit(".", 1)[-1]]
    return Response(content, media_type=kind, headers=HEADERS)


def install(app: FastAPI) -> None:
    app.include_router(router)
