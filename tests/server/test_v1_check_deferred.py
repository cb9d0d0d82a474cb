"""FastAPI's "is this a pydantic.v1 model?" without importing `pydantic.v1` while no v1 model
can exist (`server/deferred.py`): the app's routes are declared without it, and once it is
imported the answers are FastAPI's own, so a v1 model is refused as before."""

from __future__ import annotations

import subprocess
import sys
import warnings
from typing import Any, Optional, Union

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from fastapi import FastAPI, encoders
from fastapi._compat import shared
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

import smtp_connector.server  # noqa: F401  (deferred.prepare ran, as in `serve`)

with warnings.catch_warnings():  # pydantic warns on Python versions v1 does not support
    warnings.simplefilter("ignore")
    from pydantic import v1


class ModelV2(BaseModel):
    name: str


class ModelV1(v1.BaseModel):
    name: str


LEAVES: list[Any] = [int, str, bytes, dict, ModelV2, ModelV1, None, type(None)]


def wrap(inner: Any, how: str) -> Any:
    shapes: dict[str, Any] = {
        "list": lambda t: list[t],  # type: ignore[valid-type]
        "set": lambda t: set[t],  # type: ignore[valid-type]
        "tuple": lambda t: tuple[t, ...],  # type: ignore[valid-type]
        "optional": lambda t: Optional[t],  # noqa: UP045  # typing's spelling too
        "union": lambda t: Union[t, int],  # noqa: UP007
        "pipe": lambda t: t | str if isinstance(t, type) else Union[t, str],  # noqa: UP007
        "dict": lambda t: dict[str, t],  # type: ignore[valid-type]
    }
    return shapes[how](inner)


annotations = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.tuples(
        inner, st.sampled_from(["list", "set", "tuple", "optional", "union", "pipe", "dict"])
    ).map(lambda pair: wrap(*pair)),
    max_leaves=4,
)


def test_the_checks_are_deferred() -> None:
    """The app in this process runs FastAPI's checks through the deferred wrappers (which
    the tests below compare with the functions they wrap)."""
    for module in (shared, encoders):
        assert hasattr(module.is_pydantic_v1_model_instance, "__wrapped__")
    assert hasattr(shared.is_pydantic_v1_model_class, "__wrapped__")


@given(annotations)
def test_once_v1_is_imported_the_class_check_is_fastapis(annotation: Any) -> None:
    check = shared.is_pydantic_v1_model_class
    assert check(annotation) is check.__wrapped__(annotation)  # type: ignore[attr-defined]


@given(st.sampled_from([ModelV1(name="a"), ModelV2(name="a"), {"name": "a"}, 1, None, ModelV1]))
def test_once_v1_is_imported_the_instance_check_is_fastapis(value: Any) -> None:
    check = encoders.is_pydantic_v1_model_instance
    assert check(value) is check.__wrapped__(value)  # type: ignore[attr-defined]


def test_a_v1_model_is_still_refused() -> None:
    from fastapi.exceptions import PydanticV1NotSupportedError

    app = FastAPI()
    with pytest.raises(PydanticV1NotSupportedError):

        @app.get("/thing", response_model=list[ModelV1])
        async def thing() -> Any:
            return []

    with pytest.raises(PydanticV1NotSupportedError):
        encoders.jsonable_encoder(ModelV1(name="a"))


FRESH = """
import sys, warnings
import smtp_connector.server
from fastapi import FastAPI, encoders
from fastapi._compat import shared
from pydantic import BaseModel
from smtp_connector.server import Settings, create_app

class Thing(BaseModel):
    name: str

create_app(Settings())
app = FastAPI()

@app.get("/things", response_model=list[Thing] | None)
async def things() -> list[Thing] | None:
    return None

assert encoders.jsonable_encoder(Thing(name="a")) == {"name": "a"}
assert "pydantic.v1" not in sys.modules, "imported before any v1 model"
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pydantic import v1

class Old(v1.BaseModel):
    name: str

assert shared.annotation_is_pydantic_v1(list[Old] | None)
assert encoders.is_pydantic_v1_model_instance(Old(name="a"))
"""


def test_a_fresh_app_declares_its_routes_without_v1_and_then_sees_v1_models() -> None:
    """In a fresh interpreter: the app and a route over v2 models leave `pydantic.v1`
    unimported; a v1 model declared afterwards is seen as one."""
    out = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
