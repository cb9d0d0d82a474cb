"""The compose records a message builds without their dataclass `__init__` (`RenderedBodies`
in the renderer's `_finish`, `WireFill` for a shape's wire skeleton): taken from real renders,
on the shape path and the full one, each is what its `__init__` builds from the same values,
every slot set."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from smtp_connector import SmtpConnector
from smtp_connector.compose.rendering import RenderedBodies, Renderer
from smtp_connector.compose.wire import WireFill

CONFIG: dict[str, Any] = {
    "host": "smtp.example.com",
    "fromEmail": "noreply@example.com",
    "templates": [
        {"usageType": "SignIn", "subject": "Code {{code}}", "textContent": "Your code: {{code}}",
         "htmlContent": "<p>Your code: <b>{{code}}</b> for {{application.name}}</p>"},
        {"usageType": "Register", "subject": "Welcome", "content": "<p>{{code}}</p>",
         "contentType": "text/html"},
    ],
}  # fmt: skip


def _as_built_by_init(built: Any) -> None:
    fields = dataclasses.fields(type(built))
    again = type(built)(**{f.name: getattr(built, f.name) for f in fields})
    assert [getattr(built, f.name) for f in fields] == [getattr(again, f.name) for f in fields]
    assert repr(built) == repr(again)
    assert built == again


@pytest.mark.parametrize("usage", ["SignIn", "Register"])
def test_rendered_records_are_what_their_init_builds(
    monkeypatch: pytest.MonkeyPatch, usage: str, compose_path: str
) -> None:
    seen: list[RenderedBodies] = []
    render = Renderer.render

    def recording(self: Renderer, *args: Any) -> RenderedBodies:
        bodies = render(self, *args)
        seen.append(bodies)
        return bodies

    monkeypatch.setattr(Renderer, "render", recording)
    connector = SmtpConnector(CONFIG)
    for code in ("123456", "654321", "a&b<c>", "x" * 30):
        email = connector.render(usage, {"code": code}, to="user@example.org")
        email.as_bytes()
    assert seen
    for bodies in seen:
        _as_built_by_init(bodies)
        if bodies.wire is not None:
            _as_built_by_init(bodies.wire)
            assert isinstance(bodies.wire, WireFill)
    if compose_path == "shape" and usage == "SignIn":  # the wire fill's records are covered
        assert any(bodies.wire is not None for bodies in seen)
