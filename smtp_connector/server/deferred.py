"""Work FastAPI's import does for the OpenAPI document, put off until the document is built.

`fastapi.openapi.models` declares about forty pydantic models (the OpenAPI 3.1 document's
shape) and builds each one's validator when it is declared: about a tenth of `serve`'s start,
for models used once, when `/openapi.json` is first asked for (`get_openapi` validates the
document through them). Imported under `defer_build` (pydantic's documented model option), each
is built on its first use instead, by the same pydantic code, to the same schema: the document
does not change (tests/server/test_openapi_document.py), and a model FastAPI does use at start
(a security scheme's `APIKey`, built by `APIKeyHeader(...)`) is built then. Only models declared
while `fastapi` is imported get the option: ours and everyone else's are declared as they say.

The same module imports `email_validator` only to learn whether it is installed (then a
contact's `email` is an `EmailStr`); the import compiles the address grammar's regular
expressions (another fortieth of the start). While `fastapi` is imported, an installed
`email_validator` is stood in for by an empty module, taken out of `sys.modules` again after:
the first real use (pydantic's `EmailStr` when `Contact` is built, or the library's address
checks) imports the real one, as before. Not installed: nothing is stood in, FastAPI's own
fallback applies as before.

FastAPI asks of every route's parameter and response type whether it is a `pydantic.v1` model
(to refuse it), and imports `pydantic.v1` to ask (2.7 MB of an idle `serve`'s memory, for an
answer that is always no here). A class is a `pydantic.v1` model only if `pydantic.v1` was
imported to declare it, so while it is not imported the answer is no without importing it; once
anything imports it, FastAPI's own check answers (`_v1_checks_deferred`).

`prepare()` runs before anything imports `fastapi` (`server/__init__.py`); if `fastapi` is
already imported (an embedding host, a test that imported it first) there is nothing left to
put off and it does nothing.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic._internal import _config as pydantic_config


def prepare() -> None:
    """Import `fastapi` with its OpenAPI models' builds deferred and `email_validator` stood in."""
    if "fastapi" in sys.modules:
        return
    with _stand_in("email_validator"), _models_deferred():
        import fastapi.openapi.models  # noqa: F401  # declared here, built on first use
    _v1_checks_deferred()


@contextmanager
def _models_deferred() -> Iterator[None]:
    """Models declared inside the block default to `defer_build=True`; pydantic keeps its
    defaults in one dict, which is restored after. When pydantic has none (another version)
    the block changes nothing."""
    defaults = getattr(pydantic_config, "config_defaults", None)
    if not isinstance(defaults, dict) or defaults.get("defer_build") is not False:
        yield
        return
    defaults["defer_build"] = True
    try:
        yield
    finally:
        defaults["defer_build"] = False


@contextmanager
def _stand_in(name: str) -> Iterator[None]:
    """An installed but not yet imported module `name` is an empty module inside the block (an
    `import name` there finds it), and unimported again after."""
    if name in sys.modules or importlib.util.find_spec(name) is None:
        yield
        return
    stand_in = types.ModuleType(name, "stands in while fastapi is imported (server/deferred.py)")
    sys.modules[name] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]


V1_MODULES = ("pydantic.v1", "pydantic.v1.main")  # where a v1 model's base class comes from


def _v1_checks_deferred() -> None:
    """FastAPI's two questions "is this a `pydantic.v1` model (class or instance)?" answer
    no without importing `pydantic.v1` while it is not imported, and ask FastAPI's own check
    once it is. Another FastAPI, without these functions, is left as it is."""
    from fastapi import _compat, encoders
    from fastapi._compat import shared

    for name in ("is_pydantic_v1_model_class", "is_pydantic_v1_model_instance"):
        check = getattr(shared, name, None)
        if not callable(check):
            continue
        deferred = _unless_v1_imported(check)
        for module in (shared, _compat, encoders):  # the module and those holding its name
            if getattr(module, name, None) is check:
                setattr(module, name, deferred)


def _unless_v1_imported(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """`check`, answering False without calling it while no `pydantic.v1` module is loaded."""

    @functools.wraps(check)
    def deferred(obj: Any) -> bool:
        modules = sys.modules
        if V1_MODULES[0] not in modules and V1_MODULES[1] not in modules:
            return False
        return check(obj)

    return deferred
