"""The config models declare their fields with evaluated annotations, not strings.

A string annotation (what `from __future__ import annotations` makes of every one) is turned
into a type by pydantic through `typing.ForwardRef`, which `compile`s it: 125 of them when the
models were declared, about 8 million instructions of every cold start
(`benchmarks/cold_instructions.py`). Evaluated annotations give pydantic the same types, so the
same schemas; this test keeps a future import from coming back unnoticed.
"""

from __future__ import annotations

import inspect
from typing import Any

import pydantic

from smtp_connector import config
from smtp_connector.config import ConfigModel

# Every config model the package exports (a model added later is checked too).
MODELS: list[type[ConfigModel]] = [
    model
    for model in (getattr(config, name) for name in config.__all__)
    if isinstance(model, type) and issubclass(model, ConfigModel) and model is not ConfigModel
]


def _own_string_annotations(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The fields `model` itself declares whose annotation is a string (a forward reference)."""
    own = inspect.get_annotations(model)
    return {name: value for name, value in own.items() if isinstance(value, str)}


def test_config_models_declare_evaluated_annotations() -> None:
    assert len(MODELS) >= 13  # the list was found, not empty
    found = {model.__name__: _own_string_annotations(model) for model in MODELS}
    assert {name: fields for name, fields in found.items() if fields} == {}
