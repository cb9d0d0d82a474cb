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

`prepare()` runs before anything imports `fastapi` (`server/__init__.py`); if `fastapi` is
already imported (an embedding host, a test that imported it first) there is nothing left to
put off and it does nothing.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic._internal import _config as pydantic_config


def prepare() -> None:
    """Import `fastapi` with its OpenAPI models' builds deferred and `email_validator` stood in."""
    if "fastapi" in sys.modules:
        return
    with _stand_in("email_validator"), _models_deferred():
        import fastapi.openapi.models  # noqa: F401  # declared here, built on first use


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
