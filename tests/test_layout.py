"""The package's shape: stages import downhill only, and no module imports itself in a circle.

SPEC.md's layout is config → compose → signing → delivery → connector, presets beside config,
store/queue/server/cli above. These tests hold the code to it, so a new import that runs back up
(or a circle) fails here with the modules named, before it makes the package hard to read.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

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
        # What a plain connector never needs loads on first use: signing (DKIM, S/MIME),
        # presets (`verify`, `from_preset`), OAuth2 and NTLM, the Redis throttle store.
        (
            "smtp_connector.connector",
            [
                "signing",
                "presets",
                "delivery.oauth",
                "delivery.ntlm",
                "delivery.token_fetch",
                "delivery.redis_store",
            ],
        ),
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


def test_the_stages_of_a_send_import_without_pydantic() -> None:
    """Compose and delivery read the config's models only in annotations and call its plain
    rules (`config/plain.py`), so importing the connector loads no pydantic (about a third of
    a cold start's instructions): only validating a config, or a template, does."""
    code = (
        "import json, sys, smtp_connector.connector, smtp_connector.compose.checks\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "    ('pydantic', 'pydantic_core') or m.startswith('smtp_connector.config.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [
        "smtp_connector.config.core",
        "smtp_connector.config.headers",
        "smtp_connector.config.plain",
        "smtp_connector.config.records",
        "smtp_connector.config.rules",
    ]


# Third-party modules and stdlib parts a first plain send must not load: what it does not use
# costs every process that sends a verification mail (benchmarks/cold_start.py).
FIRST_SEND_MUST_NOT_LOAD = [
    "smtp_connector.signing", "smtp_connector.presets", "smtp_connector.delivery.oauth",
    "smtp_connector.delivery.ntlm", "smtp_connector.delivery.token_fetch", "html2text",
    "http.client", "cryptography", "dkim", "redis", "email_validator",
    # near-miss suggestions (a misspelt usage type, a payload name off by a letter)
    "difflib",
    # the outbox/file/console backends (tests, development), TLS options given as files/PKCS#12
    "smtp_connector.delivery.backends", "smtp_connector.delivery.pkcs12", "smtp_connector.files",
    # the shipped strings' TOML source: a send reads their compiled JSON
    "tomllib", "smtp_connector.compose.shipped_source",
    # Jinja and the sandbox: the shipped templates render through compose/plain.py
    "jinja2", "smtp_connector.compose.sandbox", "smtp_connector.compose.guards",
    "smtp_connector.compose.recording",
    # the idna codec (socket encodes a text host with it; delivery/network.py's lookup_name
    # hands getaddrinfo an ASCII name's bytes) and pydantic's regex camelCase (config/base.py)
    "encodings.idna", "stringprep", "pydantic.alias_generators",
]  # fmt: skip


@pytest.mark.parametrize(
    "templates",
    [
        "[]",  # the shipped templates
        # a user's own placeholder template: rendered, and checked at load, without Jinja
        "[{'usageType': 'SignIn', 'subject': '{{code}} code', 'content': 'Code: <<code>>'}]",
    ],
)
def test_a_first_plain_send_loads_only_what_it_uses(make_server: Any, templates: str) -> None:
    """A fresh interpreter builds a connector (no TLS, no signing, a template with a text
    part), sends one message to a real server, and loads none of the above; the server got it.
    Without TLS in play no TLS context is built either (it loads the system's CA store)."""
    server = make_server()
    code = (
        (
            "import asyncio, json, ssl, sys\n"
            "built = []\n"
            "original = ssl.create_default_context\n"
            "ssl.create_default_context = lambda *a, **k: built.append(1) or original(*a, **k)\n"
            "from smtp_connector import SmtpConnector\n"
            "async def main():\n"
            "    config = {'host': '127.0.0.1', 'port': PORT, 'fromEmail': 'noreply@example.com',\n"
            "              'ignoreTLS': True, 'templates': TEMPLATES}\n"
            "    async with SmtpConnector(config) as connector:\n"
            "        await connector.send('user@example.org', 'SignIn', {'code': '424242'})\n"
            "asyncio.run(main())\n"
            "from smtp_connector.lazy import LazyPattern\n"
            "lazy = {f'{m.__name__}.{k}': v.compiled for m in list(sys.modules.values())\n"
            "        if m.__name__.startswith('smtp_connector')\n"
            "        for k, v in vars(m).items() if isinstance(v, LazyPattern)}\n"
            "print(json.dumps({'modules': sorted(sys.modules), 'contexts': len(built),\n"
            "                  'lazy': lazy}))\n"
        )
        .replace("PORT", str(server.port))
        .replace("TEMPLATES", templates)
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    report = json.loads(out)
    loaded = [
        name
        for name in report["modules"]
        for banned in FIRST_SEND_MUST_NOT_LOAD
        if name == banned or name.startswith(banned + ".")
    ]
    assert loaded == [], f"a first plain send loaded {loaded}"
    assert report["contexts"] == 0
    # the regular expressions it never uses stay uncompiled (lazy.LazyPattern)
    compiled = [name for name, used in report["lazy"].items() if used]
    assert len(report["lazy"]) >= 12 and compiled == [], f"a first plain send compiled {compiled}"
    assert len(server.messages) == 1 and b"424242" in server.messages[0].content


# A Logto config's own templates (connector-smtp's shape): text and HTML, `{{ }}` and `<< >>`.
LOGTO_TEMPLATES = (
    "[{'usageType': 'SignIn', 'contentType': 'text/plain', 'subject': 'Sign in',"
    "  'content': 'Your code is {{ code }}.'},"
    " {'usageType': 'Register', 'contentType': 'text/html', 'subject': 'Welcome',"
    "  'content': '<p>Code: <b><<code>></b></p>'}]"
)


@pytest.mark.parametrize(
    "extra", ["{}", f"{{'templates': {LOGTO_TEMPLATES}, 'customHeaders': {{}}}}"]
)
def test_a_first_send_with_a_core_fields_config_loads_no_pydantic(
    make_server: Any, extra: str
) -> None:
    """A dict of core fields only (config/core.py), Logto's `templates` included, is read
    without the config models, and the templates (its own, or the shipped one) without
    `EmailTemplate`: a fresh interpreter sends one message to a real server and has loaded
    neither pydantic nor the models; asking for `connector.config` loads them then."""
    server = make_server(auth_required=True, users={"u": "core-pass"})
    code = (
        (
            "import asyncio, json, sys\n"
            "from smtp_connector import SmtpConnector\n"
            "async def main():\n"
            "    config = {'host': '127.0.0.1', 'port': PORT, 'fromEmail': 'noreply@example.com',\n"
            "              'fromName': 'Acme', 'ignoreTLS': True,\n"
            "              'auth': {'user': 'u', 'pass': 'core-pass'}, **EXTRA}\n"
            "    async with SmtpConnector(config) as connector:\n"
            "        await connector.send('user@example.org', 'SignIn', {'code': '424242'})\n"
            "        before = sorted(sys.modules)\n"
            "        model = type(connector.config).__name__\n"
            "    return before, model\n"
            "before, model = asyncio.run(main())\n"
            "print(json.dumps({'before': before, 'model': model, 'after': sorted(sys.modules)}))\n"
        )
        .replace("PORT", str(server.port))
        .replace("EXTRA", extra)
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    report = json.loads(out)
    models = (  # and `importlib.metadata`, which pydantic's plugin lookup imported
        "pydantic",
        "pydantic_core",
        "smtp_connector.config.models",
        "smtp_connector.config.templates",
        "smtp_connector.config.base",
        "importlib.metadata",
    )
    assert [name for name in report["before"] if name.startswith(models)] == []
    assert report["model"] == "SmtpConfig" and "pydantic" in report["after"]
    assert len(server.messages) == 1 and b"424242" in server.messages[0].content
    if "templates" in extra:  # its own template, not the shipped one
        assert b"Your code is 424242." in server.messages[0].content


# What an idle `serve` must not load: a request that needs them loads them (the library's
# config models with the first definition validated; the connector with Jinja and the SMTP
# client on the first send, check or preview; presets on `/v1/presets`; Jinja for the admin
# page on `GET /`). Each is start-up CPU and idle RSS otherwise.
SERVE_MUST_NOT_LOAD = [
    "smtp_connector.config.models", "smtp_connector.config.options", "smtp_connector.connector",
    "smtp_connector.compose.rendering",
    "smtp_connector.delivery.failover", "smtp_connector.presets", "smtp_connector.signing",
    "jinja2", "aiosmtplib", "alembic", "email.headerregistry",
    # the seeds' dialect routers: each with its first request or the first /openapi.json
    # (server/dialects/loader.py); email_validator: with the first address that needs it
    # (server/deferred.py)
    "smtp_connector.server.dialects.smtps", "smtp_connector.server.dialects.app_integrations",
    "smtp_connector.server.dialects.portal_settings",
    "smtp_connector.server.dialects.privacyidea",
    "smtp_connector.server.dialects.logto_templates", "email_validator",
    # the native admin routers (apps, servers, presets, the shipped templates, an app's
    # templates): each with its first request or the first /openapi.json (server/app.py's
    # ADMIN_ROUTERS)
    "smtp_connector.server.routes.apps", "smtp_connector.server.routes.servers",
    "smtp_connector.server.routes.presets", "smtp_connector.server.routes.preset_terms",
    "smtp_connector.server.routes.templates", "smtp_connector.server.routes.app_templates",
    "smtp_connector.compose.shipped",
    # Fernet (its Rust extension, ~7 MB): with the first secret encrypted or decrypted, the
    # key in generated form checked without it (store/secrets.py)
    "cryptography",
    # FastAPI's check for v1 models, answered without it until one can exist
    # (server/deferred.py); the `idna` codec, which `socket` would use for the listening
    # host (cli/listen.py), and the `idna` package, with the first non-ASCII host name
    # (store/network.py)
    "pydantic.v1", "encodings.idna", "stringprep", "unicodedata", "idna",
    # the store's services only an admin request uses, built on first use (store/parts.py;
    # the first request of each kind loads its module: tests/server/test_service_parts.py)
    "smtp_connector.store.definitions", "smtp_connector.store.checks",
    "smtp_connector.store.templates", "smtp_connector.store.template_render",
    "smtp_connector.store.template_send",
    # SQLAlchemy's ORM, with the ORM classes and the apps' service that work with it: an idle or
    # sending `serve` runs Core statements (store/schema.py), the first admin request loads them
    # (store/parts.py; `sqlalchemy.ext.asyncio`'s session half: store/async_engine.py;
    # tests/server/test_orm_deferred.py)
    "sqlalchemy.orm", "sqlalchemy.ext.asyncio.session", "sqlalchemy.ext.asyncio.scoping",
    "smtp_connector.store.tables", "smtp_connector.store.apps",
]  # fmt: skip


# And on PostgreSQL (no worker in `serve` there by default): procrastinate, its dependencies
# and its pool, with the first announcement of a queued message or a worker
# (queue/distributed.py); the start checks its tables on the store's connection. Nor SQLite:
# the embedded outbox's modules and `sqlite3` (queue/runtime.py, queue/batch_cursor.py).
SERVE_PG_MUST_NOT_LOAD = ["procrastinate", "psycopg_pool", "croniter", "dateutil",
                          "sqlite3", "_sqlite3", "smtp_connector.queue.sqlite_outbox",
                          "smtp_connector.queue.batch_cursor"]  # fmt: skip


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_an_idle_serve_loads_only_what_it_uses(tmp_path: Path, engine: str) -> None:
    """A fresh interpreter runs `serve` on a migrated database (a restart; on SQLite with the
    worker on) and, one second after uvicorn's start-up completed, lists what it has imported."""
    pytest.importorskip("fastapi")
    if engine == "sqlite":
        banned = _idle_serve_loads(f"sqlite:///{tmp_path / 'idle.db'}", tmp_path)
    else:
        from service_support import postgres_database

        with postgres_database() as url:
            banned = _idle_serve_loads(url, tmp_path, SERVE_PG_MUST_NOT_LOAD)
    assert banned == [], f"an idle serve loaded {banned}"


def _idle_serve_loads(url: str, tmp_path: Path, also: list[str] | None = None) -> list[str]:
    """What of SERVE_MUST_NOT_LOAD (and `also`) an idle `serve` on `url` has imported."""
    code = (
        "import asyncio, json, os, sys\n"
        "import uvicorn\n"
        "started = uvicorn.Server.startup\n"
        "def report():\n"
        "    os.write(1, json.dumps(sorted(sys.modules)).encode())\n"
        "    os._exit(0)\n"
        "async def startup(self, sockets=None):\n"
        "    await started(self, sockets=sockets)\n"
        "    asyncio.get_running_loop().call_later(1.0, report)\n"
        "uvicorn.Server.startup = startup\n"
        "from smtp_connector.cli import main\n"
        "main(['serve', '--port', '0', '--database-url', sys.argv[1]])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_CONNECTOR_")}
    if not url.startswith("sqlite"):
        from cryptography.fernet import Fernet

        env["SMTP_CONNECTOR_SECRET_KEY"] = Fernet.generate_key().decode()
    upgrade = [sys.executable, "-m", "smtp_connector", "db", "upgrade", "--database-url", url]
    subprocess.run(upgrade, capture_output=True, check=True, cwd=tmp_path, env=env, timeout=60)
    out = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, timeout=60,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return [
        name
        for name in json.loads(out.stdout)
        for banned in SERVE_MUST_NOT_LOAD + (also or [])
        if name == banned or name.startswith(banned + ".")
    ]
