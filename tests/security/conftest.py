"""One `serve` shared by the HTTP-edge tests of this folder (test_edge_*.py, test_portal_csrf,
test_api_docs_assets): starting one takes seconds, and what they test (timeouts of 1 s, trace
logging, the edge's refusals) does not disturb the others. Tests that need other settings (a
concurrency cap, trusted proxies, a blocked client) start their own."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

EDGE_ENV = {
    "SMTP_CONNECTOR_HEADER_TIMEOUT": "1",
    "SMTP_CONNECTOR_BODY_TIMEOUT": "1",
    "SMTP_CONNECTOR_KEEPALIVE_TIMEOUT": "1",
}


@pytest.fixture(scope="session")
def edge_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real `serve` on SQLite at `--log-level trace` with 1 s timeouts, and an admin key."""
    if importlib.util.find_spec("sqlalchemy") is None:
        import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
    from edge_support import serve_on

    folder = tmp_path_factory.mktemp("edge")
    with serve_on(f"sqlite:///{folder / 'edge.db'}", folder / "serve.log", log_level="trace",
                  **EDGE_ENV) as served:  # fmt: skip
        yield served
