"""Helpers for the service tests: PostgreSQL test databases, API keys, a real `serve` process.

Importable as `import service_support` (tests/ is on sys.path through the root conftest).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from smtp_servers import free_port

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
SECRET_KEY = Fernet.generate_key().decode()
SMTP_PASSWORD = "Sm7p-pa55word-never-shown"
SMTP_USER = "mailer@example.com"


def definition(port: int, **fields: object) -> dict[str, object]:
    """A server definition (API field names) for a local test server; `fields` override."""
    return {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
        "fromEmail": "noreply@example.com",
        "timeout": 5,
    } | fields


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def postgres_unavailable(reason: str) -> None:
    """Skip where PostgreSQL is missing; on CI (CI=true) a missing server is a failure."""
    if in_ci():
        pytest.fail(f"PostgreSQL is required on CI: {reason}")
    pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432 ({reason})")


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database for this test run, dropped afterwards; yields its URL."""
    try:
        import psycopg
    except ImportError as exc:  # extra `postgres` missing
        postgres_unavailable(f"psycopg not installed: {exc}")
    name = f"smtpc_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        postgres_unavailable(str(exc).splitlines()[0])
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def truncate_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE audit_log, api_keys, server_definitions, apps, outbox_messages, "
            "outbox_attempts, idempotent_sends CASCADE"
        )


def cli(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the installed `smtp-connector` console script."""
    exe = Path(sys.executable).with_name("smtp-connector")
    result = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"smtp-connector {' '.join(args)} failed:\n{result.stderr}")
    return result


def create_key_cli(
    database_url: str, *scopes: str, app: str | None = None, env: dict[str, str] | None = None
) -> str:
    args = ["keys", "create", "--database-url", database_url]
    for scope in scopes or ("smtpserver_read", "smtpserver_send", "smtpserver_write"):
        args += ["--scope", scope]
    if app:
        args += ["--app", app]
    return cli(*args, env=env).stdout.strip().splitlines()[-1]


@dataclass
class ServeProcess:
    process: subprocess.Popen[str]
    base_url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_serve(
    database_url: str, log: Path, env: dict[str, str] | None = None, log_level: str = "warning"
) -> ServeProcess:
    """`smtp-connector serve` on a free port (asyncio loop), waiting until /healthz answers.
    The port is picked before `serve` binds it, so another process may take it in between:
    `serve` then says the port is in use, and another is picked (a few times)."""
    for _ in range(4):
        served = _serve_once(database_url, log, env if env is not None else env_with(), log_level)
        if served is not None:
            return served
    raise AssertionError(f"four free ports were taken before serve bound them:\n{log.read_text()}")


def _serve_once(
    database_url: str, log: Path, env: dict[str, str], log_level: str
) -> ServeProcess | None:
    port = free_port()
    exe = Path(sys.executable).with_name("smtp-connector")
    with log.open("w") as handle:
        process = subprocess.Popen(
            [str(exe), "serve", "--port", str(port), "--database-url", database_url,
             "--loop", "asyncio", "--log-level", log_level],
            stdout=handle, stderr=subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
    served = ServeProcess(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if "already in use" in log.read_text():
                return None
            raise AssertionError(f"serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{served.base_url}/healthz", timeout=1).status_code == 200:
                return served
        except httpx.TransportError:
            time.sleep(0.1)
    served.stop()
    raise AssertionError(f"serve did not become healthy:\n{log.read_text()}")


# The tests' SMTP servers listen on 127.0.0.1, which the service refuses by default: every
# service the tests start allows loopback, except where a test sets the policy itself.
TEST_NETWORK_POLICY = "any"


def env_with(**values: str | None) -> dict[str, str]:
    """The environment for a `serve`/`worker` subprocess: no SMTP_CONNECTOR_* setting of the
    developer's shell, the tests' network policy, then `values` (None values are skipped)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMTP_CONNECTOR_")}
    env["SMTP_CONNECTOR_NETWORK_POLICY"] = TEST_NETWORK_POLICY
    # httpx forgets an idle connection after 5 s; a server that closes it first (uvicorn's
    # default is also 5 s) races the client's next POST on a loaded machine. Tests of the
    # keep-alive timeout set their own.
    env["SMTP_CONNECTOR_KEEPALIVE_TIMEOUT"] = "30"
    env.update({k: v for k, v in values.items() if v is not None})
    return env


def loopback_policy() -> Any:
    """The in-process `ServicePolicy` the tests use (see TEST_NETWORK_POLICY)."""
    from smtp_connector.store.network import NetworkPolicy
    from smtp_connector.store.policy import ServicePolicy

    return ServicePolicy(network=NetworkPolicy.parse(TEST_NETWORK_POLICY))


def file_bytes(database_path: Path) -> bytes:
    """The SQLite database with its WAL and journal, as bytes on disk."""
    data = b""
    for suffix in ("", "-wal", "-journal", "-shm"):
        part = Path(str(database_path) + suffix)
        if part.exists():
            data += part.read_bytes()
    return data


def key_headers(database_url: str, *scopes: str, app: str | None = None) -> dict[str, str]:
    """Bearer headers for a new key, made in this process with the call `keys create` makes
    (a CLI run per key costs seconds; a test needing several keys beside a `serve` uses this).
    Migrates the database first, so it also prepares one before `serve` starts."""
    import asyncio

    from smtp_connector.store import CLI_ACTOR, SCOPES, Service

    async def create() -> str:
        service = await Service.open(database_url, SECRET_KEY, migrate=True)
        try:
            wanted = scopes or SCOPES  # every scope unless given
            return (await service.keys.create(CLI_ACTOR, wanted, app=app))[1]
        finally:
            await service.aclose()

    return {"Authorization": f"Bearer {asyncio.run(create())}"}


def serve_env(**values: str | None) -> dict[str, str]:
    """`env_with` plus the tests' secret key (so keys made in-process decrypt alike)."""
    return env_with(SMTP_CONNECTOR_SECRET_KEY=SECRET_KEY, **values)


async def downgrade(database: Any, revision: str) -> None:
    """Take `database` (store.database.Database) down to Alembic `revision`: what an operator's
    `alembic downgrade` does, for the migration tests of each revision (the CLI has no
    downgrade)."""
    from smtp_connector.store.migrate import alembic_config

    def run(connection: Any) -> None:
        from alembic import command

        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with database.engine.begin() as conn:
        await conn.run_sync(run)
