"""FastAPI's OpenTelemetry asked about once, when the app is built (`server/telemetry.py`).

Each case runs in a fresh interpreter: OpenTelemetry's global providers can be set once per
process. The app answers real requests through its whole ASGI stack (no server process: these
tests claim no delivery), and the global getters FastAPI asks per request are counted after
the app was built: none without a provider; with a tracer provider FastAPI's own spans are
still made, one per request, so a service run under OpenTelemetry loses nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from fastapi import FastAPI

from smtp_connector.server.telemetry import settled_signals, unconfigured

KEY = "8KqvSqwlaiHnoqrJfhwY6wnO2hUlIFJeaGmDk9Ju0OE="  # a throwaway Fernet key

PROGRAM = """
import asyncio, json, sys
import httpx
from opentelemetry import _logs, metrics, trace
from opentelemetry.trace import NoOpTracer, TracerProvider

spans = []

class Recording(NoOpTracer):
    def start_span(self, name, *args, **kwargs):
        spans.append(name)
        return super().start_span(name, *args, **kwargs)

class Provider(TracerProvider):
    def get_tracer(self, *args, **kwargs):
        return Recording()

if sys.argv[2] == "tracer":
    trace.set_tracer_provider(Provider())

from smtp_connector.server import Settings, create_app
from smtp_connector.store import Service

async def main():
    service = await Service.open(sys.argv[1], KEY, migrate=True)
    app = create_app(Settings(), service=service)
    calls = {"tracing": 0, "metrics": 0, "logs": 0}
    def counted(name, module, attribute):
        inner = getattr(module, attribute)
        def getter(*args, **kwargs):
            calls[name] += 1
            return inner(*args, **kwargs)
        setattr(module, attribute, getter)
    counted("tracing", trace, "get_tracer_provider")
    counted("metrics", metrics, "get_meter_provider")
    counted("logs", _logs, "get_logger_provider")
    transport = httpx.ASGITransport(app=app)
    statuses = []
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path in ["/healthz"] * 4 + ["/no-such-path"]:
            statuses.append((await client.get(path)).status_code)
    await service.aclose()
    print(json.dumps({"calls": calls, "statuses": statuses, "spans": spans}))

asyncio.run(main())
"""


def run(tmp_path: Path, provider: str, **env: str) -> dict[str, Any]:
    program = tmp_path / "program.py"
    program.write_text(f"KEY = {KEY!r}\n" + textwrap.dedent(PROGRAM))
    url = f"sqlite:///{tmp_path}/store.db"
    environment = {"PATH": "/usr/bin:/bin", **env}
    done = subprocess.run([sys.executable, str(program), url, provider], capture_output=True,
                          text=True, timeout=120, env=environment, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_without_a_provider_no_request_asks_for_one(tmp_path: Path) -> None:
    result = run(tmp_path, "none")
    assert result["statuses"] == [200, 200, 200, 200, 404]
    assert result["calls"] == {"tracing": 0, "metrics": 0, "logs": 0}  # FastAPI: 5 each
    assert result["spans"] == []


def test_a_tracer_provider_set_before_the_app_keeps_fastapis_spans(tmp_path: Path) -> None:
    result = run(tmp_path, "tracer")
    assert result["statuses"] == [200, 200, 200, 200, 404]
    spans = result["spans"]
    assert spans.count("GET") == 5, spans  # FastAPI's request span, one a request
    assert spans.count("fastapi.endpoint") == 4, spans  # and its operation spans for a route
    assert result["calls"]["tracing"] >= 5  # FastAPI's per-request handling, as before
    assert result["calls"]["metrics"] == result["calls"]["logs"] == 0  # no provider: off


@pytest.mark.parametrize("value", ["true", "TRUE", "True"])
def test_fastapis_own_auto_configuration_keeps_its_checks(tmp_path: Path, value: str) -> None:
    # FastAPI installs providers in its lifespan, after the app is built: nothing is settled.
    result = run(tmp_path, "none", FASTAPI_OTEL_AUTO_CONFIGURE=value)
    assert result["statuses"] == [200, 200, 200, 200, 404]
    assert min(result["calls"].values()) >= 5  # each asked on every request, as before


def test_the_argument_is_given_only_to_a_fastapi_that_takes_it() -> None:
    class OldFastAPI:  # FastAPI before native telemetry: no `telemetry` argument
        def __init__(self, *, title: str = "") -> None:
            self.title = title

    assert settled_signals(OldFastAPI) is None
    assert settled_signals(FastAPI) == {"tracing": False, "metrics": False, "logs": False}


def test_only_opentelemetrys_placeholders_count_as_unconfigured() -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NoOpTracerProvider, ProxyTracerProvider

    assert unconfigured(ProxyTracerProvider())
    assert unconfigured(trace.get_tracer_provider()) == isinstance(
        trace.get_tracer_provider(), ProxyTracerProvider
    )
    assert not unconfigured(NoOpTracerProvider())  # set on purpose: FastAPI's own check decides

    class ProxyTracerProvider2(ProxyTracerProvider):  # another class, even a subclass: configured
        pass

    assert not unconfigured(ProxyTracerProvider2())
