"""FastAPI's OpenTelemetry signals, each asked about once, when the app is built.

FastAPI (0.16x) asks on every request whether an OpenTelemetry tracer, meter or logger
provider is configured: three global getters, each an `os.environ` lookup while none is, about
33,000 instructions a request and 6 % of a queued send's (benchmarks/enqueue_instructions.py
--http). A `serve` process has its OpenTelemetry set up, if at all, before it builds the app:
`opentelemetry-instrument` installs SDK providers when the interpreter starts, the
`OTEL_PYTHON_*_PROVIDER` variables name providers the first getter call loads (the call made
here), and FastAPI's own `FASTAPI_OTEL_AUTO_CONFIGURE` installs them in the lifespan, after
this (then nothing is switched off). So a signal whose provider is unconfigured now is switched
off with FastAPI's public `telemetry=` argument, and FastAPI then skips its getter; a signal
with a provider keeps FastAPI's own per-request handling, spans and metrics as before. The one
difference: a provider installed later by code running inside the same process (none of
`serve`'s) is not seen; docs/service.md says so.

"Unconfigured" is FastAPI's own test (`fastapi.telemetry._api._unconfigured`, private, so
restated here): the provider is one of the API's deferred proxies. A provider of any other
class counts as configured, so a future rename of those proxies leaves FastAPI's check on.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any

# (module, class) of OpenTelemetry's placeholders before a provider is set, as FastAPI lists them.
_DEFERRED = frozenset(
    {
        ("opentelemetry.trace", "ProxyTracerProvider"),
        ("opentelemetry.metrics._internal", "_ProxyMeterProvider"),
        ("opentelemetry._logs._internal", "ProxyLoggerProvider"),
    }
)


def unconfigured(provider: object) -> bool:
    """True for OpenTelemetry's placeholder provider (no SDK or provider set)."""
    cls = type(provider)
    return (cls.__module__, cls.__name__) in _DEFERRED


def _getters() -> dict[str, Callable[[], Any]]:
    """FastAPI's signal names and the global getter each one asks."""
    from opentelemetry import _logs, metrics, trace  # imported by FastAPI already

    return {
        "tracing": trace.get_tracer_provider,
        "metrics": metrics.get_meter_provider,
        "logs": _logs.get_logger_provider,
    }


def settled_signals(app_class: type) -> dict[str, bool] | None:
    """The `telemetry=` argument for `app_class` (FastAPI): the signals without a provider now,
    switched off. None, FastAPI's defaults, where it takes no such argument (before 0.16x),
    where it will install providers itself (`FASTAPI_OTEL_AUTO_CONFIGURE`), or where every
    signal has a provider."""
    if "telemetry" not in inspect.signature(app_class).parameters:
        return None
    if os.getenv("FASTAPI_OTEL_AUTO_CONFIGURE", "").lower() == "true":
        return None
    off = {name: False for name, getter in _getters().items() if unconfigured(getter())}
    return off or None
