"""The OpenAPI document with error bodies declared by reference (`server/openapi.py`): the
same document FastAPI writes for `{"model": M}` on every route, without a serializer per
route and status at start-up; and every validator the API's routes use is built with the app,
not on a first request."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from typing import Any

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from fastapi import FastAPI
from fastapi.openapi.utils import get_fields_from_routes
from pydantic import BaseModel
from pydantic._internal._mock_val_ser import MockValSer

from smtp_connector.server import Settings, create_app
from smtp_connector.server import openapi as doc
from smtp_connector.server.app import install_admin_routers
from smtp_connector.server.dialects import loader


def served_app() -> FastAPI:
    """The app with every route in place: the dialects and the admin routers are otherwise
    installed by their first request or the document (lazy_routers.py)."""
    app = create_app(Settings())
    install_admin_routers(app)
    loader.install_all(app)
    return app


def one_route_document(responses: dict[int | str, dict[str, Any]], *, by_reference: bool) -> Any:
    app = FastAPI(title="t", version="1")

    @app.post("/things/{thing_id}", responses=responses)
    async def change(thing_id: int, body: dict[str, int]) -> dict[str, int]:
        return body

    if by_reference:
        doc.install(app)
    return app.openapi()


def referred_models() -> list[type[BaseModel]]:
    served_app()  # the routers are imported, so every error body is declared
    return sorted(doc._REFERRED, key=lambda model: model.__qualname__)


@pytest.mark.parametrize("model", referred_models(), ids=lambda model: model.__name__)
def test_an_error_body_by_reference_is_documented_as_fastapi_documents_its_model(
    model: type[BaseModel],
) -> None:
    described = [(400, "invalid input"), (404, "not found"), (409, "conflict")]
    by_model = one_route_document(
        {status: {"model": model, "description": text} for status, text in described},
        by_reference=False,
    )
    by_reference = one_route_document(
        {status: doc.error_response(model, text) for status, text in described},
        by_reference=True,
    )
    assert by_reference["paths"] == by_model["paths"]
    mine, theirs = by_reference["components"]["schemas"], by_model["components"]["schemas"]
    assert {name: mine.get(name) for name in theirs} == theirs
    assert list(mine) == sorted(mine)  # in FastAPI's order, the carrier's extra models too


def test_the_served_document_defines_every_error_body_and_builds_no_field_for_one() -> None:
    app = served_app()
    document = app.openapi()
    schemas = document["components"]["schemas"]
    assert {model.__name__ for model in doc._REFERRED} <= set(schemas)
    assert doc._CARRIER_PATH not in document["paths"]
    assert app.openapi() is document  # built once
    fields = get_fields_from_routes(app.routes)  # FastAPI's: every route's built fields
    assert len(fields) > 100
    # FastAPI names a field it builds for one of a route's `responses` Response_<status>_<id>
    per_status = {f.field_info.annotation for f in fields if re.match(r"Response_\d{3}_", f.name)}
    assert per_status and per_status.isdisjoint(doc._REFERRED), "an error body got serializers"


def test_every_validator_the_routes_use_is_built_with_the_app() -> None:
    """A model declared with `defer_build` (or one FastAPI could not complete) would be built
    by the first request that uses it, which would pay for it and leak pydantic's warnings
    that FastAPI silences while it builds its fields."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        app = served_app()
        fields = get_fields_from_routes(app.routes)
        deferred = [f.name for f in fields if isinstance(f._type_adapter.validator, MockValSer)]
        assert fields and deferred == []
        app.openapi()


def test_a_body_read_by_hand_is_documented_when_the_document_is_built() -> None:
    """`body_doc`'s schema is generated with the document (`openapi.deferred`), not when the
    route is declared, and reads as before: the model's fields, JSON and form, inlined."""
    from smtp_connector.server.dialects import smtps

    operation = served_app().openapi()["paths"]["/private/smtps/save"]["post"]
    content = operation["requestBody"]["content"]
    expected = smtps.Params.model_json_schema()
    for media in ("application/json", "application/x-www-form-urlencoded"):
        schema = content[media]["schema"]
        assert schema["properties"].keys() == expected["properties"].keys()
        assert "$ref" not in str(schema) and "$defs" not in schema
    assert operation["requestBody"]["required"] is False


def test_fastapis_document_models_are_built_by_the_first_document_not_at_import() -> None:
    """`server/deferred.py`: in a fresh interpreter, importing the server leaves FastAPI's
    OpenAPI models unbuilt and `email_validator` unimported; the first document builds them,
    and a contact's address is still checked by the real `email_validator`."""
    code = (
        "import json, sys\n"
        "from smtp_connector.server import Settings, create_app\n"
        "from fastapi.openapi import models\n"
        "before = [models.OpenAPI.__pydantic_complete__, 'email_validator' in sys.modules]\n"
        "create_app(Settings()).openapi()\n"
        "after = [models.OpenAPI.__pydantic_complete__]\n"
        "try:\n"
        "    models.Contact(email='not an address')\n"
        "except ValueError as error:\n"
        "    after.append('email_validator.syntax' in sys.modules and 'email' in str(error))\n"
        "print(json.dumps([before, after]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [[False, False], [True, True]]
