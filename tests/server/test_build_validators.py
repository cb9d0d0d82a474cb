"""`lazy_routers.build_validators`: a router installed on first use has its deferred models'
validators built then, not by its first request; where FastAPI's field no longer keeps its
adapter where this looks (a private attribute), the router still installs and pydantic builds
the validator on first use, as it did before."""

from __future__ import annotations

from typing import Any

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from smtp_connector.server import lazy_routers


class Deferred(BaseModel):
    model_config = ConfigDict(defer_build=True)
    name: str


def _routes() -> list[Any]:
    router = APIRouter()

    @router.post("/things")
    async def create(thing: Deferred) -> Deferred:
        return thing

    return list(router.routes)


def test_a_deferred_models_validator_is_built_with_its_router() -> None:
    routes = _routes()
    fields = lazy_routers.get_fields_from_routes(routes)
    adapters = [field._type_adapter for field in fields]
    assert not all(adapter.pydantic_complete for adapter in adapters)  # deferred until now
    lazy_routers.build_validators(routes)
    assert all(adapter.pydantic_complete for adapter in adapters)


@pytest.mark.parametrize("field", [object(), type("Field", (), {"_type_adapter": object()})()])
def test_a_field_without_the_adapter_where_it_is_looked_for_is_left_alone(
    monkeypatch: pytest.MonkeyPatch, field: object
) -> None:
    monkeypatch.setattr(lazy_routers, "get_fields_from_routes", lambda routes: [field])
    lazy_routers.build_validators(_routes())  # no AttributeError: the router installs
