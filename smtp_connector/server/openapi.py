"""The OpenAPI document, with the error bodies declared by reference.

Every route documents eight or so error statuses, each with a body model. Given as
`{"model": M}`, FastAPI builds a serializer (a pydantic `TypeAdapter`) for each route and
status when the route is declared — about 480 of them, a tenth of `serve`'s start — and uses
them only to write `{"$ref": "#/components/schemas/M"}` into this document. So the routes
carry that reference (`error_response`), and the models' schemas are added to the components
once, when the document is first asked for, by the same FastAPI code as before: one
undocumented route that declares each model is handed to `get_openapi` with the app's routes,
and its path is taken out again. The document is the same as with `model` on every route
(tests/server/test_openapi_document.py).

The same goes for the request bodies the dialects read by hand (`dialects.common.body_doc`):
their JSON schemas were generated when the routes were declared (another twentieth of the
start); a route now carries an `openapi_extra` that `deferred` fills when the document is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import BaseModel

# Every model an `error_response` refers to, in the order first declared.
_REFERRED: dict[type[BaseModel], None] = {}
_CARRIER_PATH = "/__error_bodies__"
# Each route's `openapi_extra` handed out by `deferred`, and what fills it.
_DEFERRED: list[tuple[dict[str, Any], Callable[[], dict[str, Any]]]] = []


def error_response(model: type[BaseModel], description: str) -> dict[str, Any]:
    """One entry of a route's `responses`: `description` with a JSON body shaped as `model`,
    as FastAPI writes it for `{"model": model, "description": description}`."""
    _REFERRED.setdefault(model)
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def deferred(build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A route's `openapi_extra`, empty until the document is first built, then `build()`'s
    (FastAPI reads `openapi_extra` only then, and keeps the dict it was given)."""
    extra: dict[str, Any] = {}
    _DEFERRED.append((extra, build))
    return extra


def _fill_deferred() -> None:
    for extra, build in _DEFERRED:
        if not extra:
            extra.update(build())


def install(app: FastAPI) -> None:
    """Replace `app.openapi` (FastAPI's documented way to extend the document) with one that
    also puts the referred models' schemas in the components; built on first use, kept."""

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            _fill_deferred()
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                summary=app.summary,
                description=app.description,
                terms_of_service=app.terms_of_service,
                contact=app.contact,
                license_info=app.license_info,
                routes=[*app.routes, _carrier()],
                webhooks=app.webhooks.routes,
                tags=app.openapi_tags,
                servers=app.servers,
                separate_input_output_schemas=app.separate_input_output_schemas,
                external_docs=app.openapi_external_docs,
            )
            document["paths"].pop(_CARRIER_PATH, None)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _carrier() -> APIRoute:
    """A route never served, whose responses name every referred model (one status each),
    so that FastAPI generates their schemas with the others, under the same names."""
    responses: dict[int | str, dict[str, Any]] = {
        400 + index: {"model": model} for index, model in enumerate(_REFERRED)
    }
    return APIRoute(_CARRIER_PATH, _never_called, responses=responses)


async def _never_called() -> None:
    """The carrier's endpoint: it is never mounted."""
