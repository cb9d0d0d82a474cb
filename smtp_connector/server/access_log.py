"""What `serve` writes to its log, and what it never writes.

uvicorn's access log carries the full request target; a query string can carry a secret
(privacyIDEA's clients may put any parameter there, and a mistaken `?password=` must not land
in a log file), so only the path is logged. At `--log-level trace` uvicorn also logs each
request's ASGI scope: its query string is hidden the same way, and its headers (which carry
`Authorization` and cookies) are shown as `<...>` whatever uvicorn's version does.

The package's own records (`smtp_connector.*`: delivery, queue, server errors with their
tracebacks) go to the same stream at the chosen level; every line of it and of uvicorn's error
log, tracebacks included, is passed through `errors.redact`, which removes every secret the
library has seen. A failed delivery attempt's line is worded as the API's `lastError` is
(store/hints.py): an operator reads `username` and `password`, not the library's `auth.user`
and `auth.pass`. (Access lines are not: they hold the client, method, path and status only,
and one is written per request, where scanning for every known secret would cost.)
"""

from __future__ import annotations

import logging
from copy import deepcopy
from typing import Any

from uvicorn.config import LOG_LEVELS, LOGGING_CONFIG
from uvicorn.logging import DefaultFormatter

from smtp_connector.errors import ConnectorError, ErrorCode, redact
from smtp_connector.store.hints import explain, rebuilt

HIDDEN = "<hidden>"


class HideQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


class HideScopeSecrets(logging.Filter):
    """uvicorn's trace lines (`uvicorn.asgi`) log the ASGI scope as a dict argument: its
    query string and headers are replaced, in a copy (the request keeps its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(arg, dict) for arg in args):
            record.args = tuple(_hide(arg) if isinstance(arg, dict) else arg for arg in args)
        return True


class ServiceTerms(logging.Filter):
    """A record that carries a `connector_error` (the library's failed-attempt line) has the
    error's text replaced by its explanation in the native API's terms, hint included."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "connector_error", None)
        args = record.args
        if not (isinstance(fields, dict) and isinstance(args, tuple)):
            return True
        try:
            error = rebuilt(fields)
        except (KeyError, ValueError):  # not the library's fields: the line stays as it was
            return True
        said, explained = str(error), explain(error)
        if said in args:
            error.message = f"{explained.message} {explained.hint or ''}".rstrip()
            record.args = tuple(str(error) if arg == said else arg for arg in args)
        return True


def _hide(scope: dict[str, Any]) -> dict[str, Any]:
    hidden = dict(scope)
    if hidden.get("query_string"):
        hidden["query_string"] = HIDDEN
    if "headers" in hidden:
        hidden["headers"] = "<...>"
    return hidden


class RedactingDefaultFormatter(DefaultFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def log_level(name: str) -> int:
    """uvicorn's level names (critical … trace) as a number; an unknown name is refused."""
    try:
        return LOG_LEVELS[name.lower()]
    except KeyError:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"--log-level {name!r} is not a level: use one of {', '.join(LOG_LEVELS)}.",
        ) from None


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging config with the filters above, redacting formatters, and the
    package's loggers on the same handler at `level`."""
    config = deepcopy(LOGGING_CONFIG)
    module = __name__
    config["formatters"]["default"]["()"] = f"{module}.RedactingDefaultFormatter"
    config["filters"] = {
        "hide_query_strings": {"()": f"{module}.HideQueryStrings"},
        "hide_scope_secrets": {"()": f"{module}.HideScopeSecrets"},
        "service_terms": {"()": f"{module}.ServiceTerms"},
    }
    config["formatters"]["package"] = {
        "()": f"{module}.RedactingDefaultFormatter",
        "fmt": "%(levelprefix)s %(name)s: %(message)s",
    }
    config["handlers"]["access"]["filters"] = ["hide_query_strings"]
    config["handlers"]["default"]["filters"] = ["hide_scope_secrets"]
    config["handlers"]["package"] = config["handlers"]["default"] | {
        "formatter": "package",
        "filters": ["hide_scope_secrets", "service_terms"],
    }
    config["loggers"]["smtp_connector"] = {
        "handlers": ["package"],
        "level": log_level(level),
        "propagate": False,
    }
    return config
