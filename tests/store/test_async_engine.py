"""`sqlalchemy.ext.asyncio` imported in two halves (store/async_engine.py): the engine without
the ORM, then, with the first other name asked for, exactly what a plain import gives. Each
case runs in a fresh interpreter (the package is imported once per process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "smtp_connector" / "store" / "async_engine.py"

# The shim loaded from its file alone (the store's package would import its own modules).
LOAD = f"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("async_engine", {str(MODULE)!r})
shim = importlib.util.module_from_spec(spec)
"""
RUN = "spec.loader.exec_module(shim)\n"


def _run(code: str) -> Any:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def _plain() -> dict[str, str]:
    """The package's names after a plain import, each with its value's type and module."""
    return _run(PLAIN)  # type: ignore[no-any-return]


PLAIN = """
import json, sys
import sqlalchemy.ext.asyncio as package
print(json.dumps({name: f"{type(value).__name__} {getattr(value, '__module__', '')}"
                  for name, value in vars(package).items() if name not in ("__loader__",)}))
"""


def test_the_engine_half_loads_no_orm_and_the_rest_is_a_plain_import() -> None:
    seen = _run(
        LOAD
        + RUN
        + """
import sqlalchemy.ext.asyncio as package
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncResult, create_async_engine
first = {"orm": "sqlalchemy.orm" in sys.modules, "names": sorted(vars(package))}
from sqlalchemy.ext.asyncio import AsyncSession
import sqlalchemy.ext.asyncio.session as session
names = {name: f"{type(value).__name__} {getattr(value, '__module__', '')}"
         for name, value in vars(package).items() if name not in ("__loader__",)}
print(json.dumps({"first": first, "orm": "sqlalchemy.orm" in sys.modules,
                  "same": AsyncSession is session.AsyncSession, "names": names,
                  "engine": shim.create_async_engine is create_async_engine}))
"""
    )
    assert seen["first"]["orm"] is False
    assert {"AsyncConnection", "AsyncEngine", "AsyncResult", "create_async_engine",
            "__getattr__"} <= set(seen["first"]["names"])  # fmt: skip
    assert "AsyncSession" not in seen["first"]["names"]
    assert seen["orm"] is True and seen["same"] is True and seen["engine"] is True
    assert seen["names"] == _plain()  # no `__getattr__` left, nothing missing, nothing extra


def test_a_star_import_and_an_unknown_name_answer_as_after_a_plain_import() -> None:
    seen = _run(
        LOAD
        + RUN
        + """
import sqlalchemy.ext.asyncio as package
namespace = {}
exec("from sqlalchemy.ext.asyncio import *", namespace)
try:
    package.no_such_name
    missing = None
except AttributeError as error:
    missing = str(error)
print(json.dumps({"star": sorted(n for n in namespace if n != "__builtins__"),
                  "missing": missing}))
"""
    )
    plain = _run("""
import json
namespace = {}
exec("from sqlalchemy.ext.asyncio import *", namespace)
print(json.dumps(sorted(n for n in namespace if n != "__builtins__")))
""")
    assert seen["star"] == plain
    assert seen["missing"] == "module 'sqlalchemy.ext.asyncio' has no attribute 'no_such_name'"


def test_an_engine_made_from_the_first_half_runs_statements() -> None:
    seen = _run(
        LOAD
        + RUN
        + """
import asyncio
from sqlalchemy import text
async def main():
    engine = shim.create_async_engine("sqlite+aiosqlite://")
    async with engine.begin() as connection:
        value = (await connection.execute(text("select 41 + 1"))).scalar_one()
    await engine.dispose()
    return value
print(json.dumps({"value": asyncio.run(main()), "orm": "sqlalchemy.orm" in sys.modules}))
"""
    )
    assert seen == {"value": 42, "orm": False}


def test_already_imported_it_is_left_as_it_is() -> None:
    seen = _run(
        """
import json, sys
import sqlalchemy.ext.asyncio as before
"""
        + LOAD
        + RUN
        + """
print(json.dumps({"same": shim.load() is before and sys.modules["sqlalchemy.ext.asyncio"] is before,
                  "lazy": "__getattr__" in vars(before)}))
"""
    )
    assert seen == {"same": True, "lazy": False}


@pytest.mark.parametrize(
    "source",
    ["from .engine import create_async_engine\nfrom .result import AsyncResult\n",  # none put off
     "from .engine import create_async_engine\nfrom .session import AsyncSession\n",  # no result
     "this is not python("],
)  # fmt: skip
def test_an_init_of_another_shape_is_imported_plainly(tmp_path: Path, source: str) -> None:
    init = tmp_path / "__init__.py"
    init.write_text(source)
    seen = _run(LOAD + RUN + f"print(json.dumps(shim._first_half({str(init)!r}) is None))")
    assert seen is True


def test_the_first_half_of_the_installed_package_puts_off_the_session_only() -> None:
    seen = _run(
        LOAD
        + RUN
        + """
import ast, importlib.util
origin = importlib.util.find_spec("sqlalchemy.ext.asyncio").origin
tree = ast.parse(open(origin).read())
put_off = sorted({n.module for n in tree.body
                  if isinstance(n, ast.ImportFrom) and n.level == 1} - set(shim.FIRST_HALF))
print(json.dumps({"put_off": put_off, "shape": shim._first_half(origin) is not None}))
"""
    )
    assert seen == {"put_off": ["scoping", "session"], "shape": True}


def test_a_first_half_that_fails_raises_as_a_plain_import_and_leaves_nothing() -> None:
    """greenlet missing: the plain import's ImportError, and no half-imported package left."""
    seen = _run(
        "import sys\nsys.modules['greenlet'] = None\n"
        + LOAD
        + """
try:
    spec.loader.exec_module(shim)
    error = None
except ImportError as exc:
    error = str(exc)
print(json.dumps({"error": error, "left": sorted(n for n in sys.modules
                                                 if n.startswith("sqlalchemy.ext.asyncio"))}))
"""
    )
    plain = _run("""
import json, sys
sys.modules['greenlet'] = None
try:
    import sqlalchemy.ext.asyncio
    error = None
except ImportError as exc:
    error = str(exc)
print(json.dumps(error))
""")
    assert seen == {"error": plain, "left": []} and plain is not None
