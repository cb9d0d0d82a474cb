"""The package's shape: stages import downhill only, and no module imports itself in a circle.

SPEC.md's layout is config → compose → signing → delivery → connector, presets beside config,
store/queue/server/cli above. These tests hold the code to it, so a new import that runs back up
(or a circle) fails here with the modules named, before it makes the package hard to read.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import smtp_connector

PACKAGE = Path(smtp_connector.__file__).parent
ROOT = "smtp_connector"

# Importer stage -> stages it must never import (directly or through a chain of imports).
FORBIDDEN = {
    "config": {"compose", "signing", "delivery", "presets", "connector", "store", "queue",
               "server", "cli", "testing"},
    "presets": {"config", "compose", "signing", "delivery", "connector", "store", "queue",
                "server", "cli", "testing"},
    "compose": {"signing", "delivery", "presets", "connector", "store", "queue", "server", "cli",
                "testing"},
    "signing": {"delivery", "presets", "connector", "store", "queue", "server", "cli", "testing"},
    "delivery": {"signing", "presets", "connector", "store", "queue", "server", "cli", "testing"},
    "connector": {"store", "queue", "server", "cli", "testing"},
    "store": {"queue", "server", "cli", "testing"},
    "queue": {"server", "cli", "testing"},
    "server": {"cli", "testing"},
}  # fmt: skip
# Deliberate, named exceptions: `SmtpConfig.from_preset` builds through presets (which never
# import config: they take the model as an argument), imported on first call.
ALLOWED = {("config.models", "presets.build")}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, module: str, modules: set[str]) -> set[str]:
    """Our modules that `path` imports anywhere in its body (lazy imports count too)."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            stem = [*base, *(node.module.split(".") if node.module else [])]
            targets.add(".".join(stem))
            targets.update(".".join([*stem, alias.name]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(ROOT + "."):
            targets.add(node.module.removeprefix(ROOT + "."))  # type: ignore[union-attr]
    found = set()
    for target in targets:
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != module and not module.startswith(target + "."):
            found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py") if "_data" not in p.parts}
    modules = set(files) - {""}
    return {m: _imports(p, m, modules) for m, p in files.items() if m}


def _stage(module: str) -> str:
    return module.split(".")[0]


def test_no_import_circle() -> None:
    edges = _graph()  # a package face counts as importing what it re-exports
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (circle := visit(nxt)):
                return circle
        state[node] = 2
        stack.pop()
        return None

    for start in sorted(edges):
        if start not in state and (circle := visit(start)):
            pytest.fail("import circle: " + " -> ".join(circle))


def test_stages_import_downhill_only() -> None:
    uphill = [
        f"{module} -> {dep}"
        for module, deps in _graph().items()
        for dep in deps
        if _stage(dep) in FORBIDDEN.get(_stage(module), set()) and (module, dep) not in ALLOWED
    ]
    assert uphill == [], "imports running back up: " + ", ".join(sorted(uphill))


def test_no_module_over_400_lines() -> None:
    sizes = {
        _module_name(p): len(p.read_text(encoding="utf-8").splitlines())
        for p in PACKAGE.rglob("*.py")
    }
    big = {m: n for m, n in sizes.items() if n > 450}
    assert big == {}, f"modules over ~400 lines: {big}"


@pytest.mark.parametrize(
    ("module", "must_not_load"),
    [
        ("smtp_connector.config", ["signing", "delivery", "presets.rules", "connector"]),
        ("smtp_connector.compose.message", ["signing", "delivery", "presets", "connector"]),
        ("smtp_connector", ["config", "delivery", "connector"]),
    ],
)
def test_importing_a_stage_loads_nothing_above_it(module: str, must_not_load: list[str]) -> None:
    """Checked in a fresh interpreter: what `import X` really pulls in, lazy imports included."""
    code = (
        f"import json, sys, {module}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('smtp_connector'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out)
    leaked = [
        name
        for name in loaded
        for banned in must_not_load
        if name == f"{ROOT}.{banned}" or name.startswith(f"{ROOT}.{banned}.")
    ]
    assert leaked == [], f"importing {module} loaded {leaked}"


def test_every_stage_says_its_job_and_what_it_may_import() -> None:
    for init in sorted(PACKAGE.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "import" in doc.lower() and len(doc.splitlines()) >= 2, init.parent.name
