"""Cross-site request forgery: writes authenticated by a cookie must show they come from this
origin (finding 4).

A browser attaches a cookie to every request for its site, whichever page starts it: a hostile
page's form, or a `fetch` in `no-cors` mode, can post to the portal dialect (which takes its
key from the `asc_auth_key` cookie) with the victim's key. Those "simple" requests can only
carry a form (`application/x-www-form-urlencoded`, `multipart/form-data`) or `text/plain`
body; anything else (`application/json`, `PUT`, `DELETE`) makes the browser ask first (a CORS
preflight), which this service never grants. So, for a cookie-authenticated write:

1. a form or `text/plain` body is refused, whatever else the request says;
2. `Sec-Fetch-Site` (sent by current browsers) must be `same-origin` or `none` (typed by the
   user), if present;
3. else `Origin`, if present, must be this service's own origin (scheme, host and port);
4. with neither header, the request must not be a simple one: a `POST` needs a content type
   (JSON), other methods pass (a browser preflights them).

Requests with `Authorization: Bearer KEY` are not affected: no browser adds that header by
itself. Reads (`GET`, `HEAD`) change nothing and are not checked.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from .errors import ApiFailure, Failure

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIMPLE_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
SAME_ORIGIN_SITES = frozenset({"same-origin", "none"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def refuse_cross_site(request: Request) -> None:
    """Raise a 403 unless a write authenticated by a cookie shows it comes from this origin
    (see the module docstring); do nothing for reads."""
    if request.method in SAFE_METHODS:
        return
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in SIMPLE_TYPES:
        _refuse(f"it sends {media}, which any web page can post; send JSON "
                "(Content-Type: application/json)")  # fmt: skip
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site.strip().lower() not in SAME_ORIGIN_SITES:
            _refuse(f"the browser says it comes from another page (Sec-Fetch-Site: {site[:40]})")
        return
    origin = request.headers.get("origin")
    if origin is not None:
        if not same_origin(origin, request):
            _refuse(f"its Origin {origin[:100]!r} is not this service's origin")
        return
    if request.method == "POST" and not media:
        _refuse("it has no Content-Type and no Origin, as a cross-site post can; send JSON")


def same_origin(origin: str, request: Request) -> bool:
    """`origin` (scheme://host[:port]) names the origin the request was sent to."""
    try:
        theirs = urlsplit(origin)
        their_port = theirs.port or DEFAULT_PORTS.get(theirs.scheme)
    except ValueError:  # a port that is not a number
        return False
    ours = request.url
    our_port = ours.port or DEFAULT_PORTS.get(ours.scheme)
    return (theirs.scheme, (theirs.hostname or "").lower(), their_port) == (
        ours.scheme,
        (ours.hostname or "").lower(),
        our_port,
    )


def _refuse(why: str) -> None:
    message = (f"Refused a change authenticated by a cookie: {why}. Browsers send cookies on "
               "other sites' requests too; from a server, send the key as "
               "`Authorization: Bearer KEY`.")  # fmt: skip
    raise ApiFailure(Failure(403, "forbidden", message))
