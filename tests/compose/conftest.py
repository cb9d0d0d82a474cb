"""Every compose test runs on both paths: `shape` (the default, compose once per template shape
and substitute) and `full` (every message rendered by Jinja), so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smtp_connector.compose.shapes import ShapeCache


@pytest.fixture(scope="module", params=["shape", "full"], autouse=True)
def compose_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """`full` makes the shape cache answer "render it in full" for every message."""
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "full":
            patch.setattr(ShapeCache, "pieces", lambda self, template, context, walked=None: None)
        yield request.param
