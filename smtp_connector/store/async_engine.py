"""SQLAlchemy's asyncio engine, without its ORM session until something asks for one.

`sqlalchemy.ext.asyncio`'s `__init__` imports the engine (`create_async_engine`,
`AsyncEngine`, `AsyncConnection`, the async results) together with `AsyncSession`, and the
session imports SQLAlchemy's whole ORM: about 6 MB of an idle `serve`'s memory and a tenth of
its start (issue 26 §5), for a process whose idle and sending paths run Core statements only
(schema.py). `load()` imports the package in two halves, from its own `__init__`: first that
file without its lines importing from `.scoping` and `.session` (so: the names it takes from
`.engine` and `.result`, and greenlet's set-up); then, when any other name of the package is
first asked for (`AsyncSession`, `async_sessionmaker`, `async_scoped_session`, ...), the whole
file, run in the package itself, so it ends up holding exactly what a plain import gives it
(an admin request's session, the CLI and the migrations reach it that way).

If the package was imported already (an embedding host, a test, a user's own code), there is
nothing left to put off and `load()` does nothing. An `__init__` of another shape (another
SQLAlchemy release: nothing to put off, or no engine or result lines) is imported plainly; an
error in the first half (greenlet missing) is raised as a plain import raises it, and leaves
nothing of the package imported.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
import threading
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

PACKAGE = "sqlalchemy.ext.asyncio"
# The submodules whose names the package's first half holds: no ORM behind either.
FIRST_HALF = ("engine", "result")


def load() -> ModuleType:
    """`sqlalchemy.ext.asyncio`, imported now or earlier (see the module's doc)."""
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    spec = importlib.util.find_spec(PACKAGE)
    first_half = _first_half(spec.origin if spec is not None else None)
    if spec is None or spec.loader is None or first_half is None:
        return importlib.import_module(PACKAGE)
    package = importlib.util.module_from_spec(spec)
    lock = threading.Lock()

    def finish(name: str) -> Any:
        """A submodule asked for (`from . import exc` asks before it imports): imported.
        Any other name: the package's own `__init__` run in it (once), then asked."""
        if not name.startswith("__") and importlib.util.find_spec(f"{PACKAGE}.{name}"):
            return importlib.import_module(f"{PACKAGE}.{name}")
        with lock:
            if vars(package).get("__getattr__") is finish:
                del vars(package)["__getattr__"]
                spec.loader.exec_module(package)  # type: ignore[union-attr]  # checked above
        try:
            return vars(package)[name]
        except KeyError:
            raise AttributeError(f"module {PACKAGE!r} has no attribute {name!r}") from None

    vars(package)["__getattr__"] = finish
    sys.modules[PACKAGE] = package
    try:
        exec(first_half, vars(package))  # the package's own lines, see above
    except BaseException:
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]  # as a failed plain import leaves it: not imported
        raise
    parent, _, child = PACKAGE.rpartition(".")
    setattr(sys.modules[parent], child, package)
    return package


def _first_half(origin: str | None) -> CodeType | None:
    """The package's `__init__` without its imports from submodules other than `FIRST_HALF`
    (the session's and the scoped session's); None when it cannot be read or is not of that
    shape (then the plain import is used)."""
    if origin is None or not origin.endswith("__init__.py"):
        return None
    try:
        tree = ast.parse(Path(origin).read_text(encoding="utf-8"), origin)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    kept, put_off, found = [], 0, set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module not in FIRST_HALF:
                put_off += 1
                continue
            found.add(node.module)
        kept.append(node)
    if not put_off or found != set(FIRST_HALF):
        return None
    return compile(ast.Module(body=kept, type_ignores=[]), origin, "exec")


load()

# The engine's names, from the first half (no ORM), for the store and the queue.
from sqlalchemy.ext.asyncio.engine import AsyncConnection, AsyncEngine, create_async_engine  # noqa: E402

__all__ = ["AsyncConnection", "AsyncEngine", "create_async_engine", "load"]
