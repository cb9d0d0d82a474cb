"""A send's first payload check of a template analyses its source (tens of milliseconds of
CPU) in the service's check thread, not on the event loop that serves every app (issue 26 §2:
several apps' first builds at once), with the renderer's plain parts of it; the check and the
render, on the loop, then only read what the thread found; and the check answers as the
library's own check does (against real aiosmtpd servers)."""

from __future__ import annotations

import threading

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import definition
from smtp_servers import MakeServer

from smtp_connector import ConnectorError, SmtpConnector
from smtp_connector.compose.rendering import Renderer
from smtp_connector.compose.requirements import PayloadCheck
from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, MessageRequest, Service

SIGN_IN = {"to": "user@example.org", "usageType": "SignIn", "payload": {"code": "482913"}}


def analysed_in(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(thread name, template locale) of every analysis of a template not analysed before."""
    seen: list[tuple[str, str]] = []
    facts_of = PayloadCheck._facts_of

    def recorded(self: PayloadCheck, template):  # type: ignore[no-untyped-def]
        if not self.knows(template):
            seen.append((threading.current_thread().name, str(template.locale)))
        return facts_of(self, template)

    monkeypatch.setattr(PayloadCheck, "_facts_of", recorded)
    return seen


def compiled_in(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The thread of every first plain compilation of a template by a renderer (plain.py)."""
    seen: list[str] = []
    plain = Renderer.plain

    def recorded(self: Renderer, template):  # type: ignore[no-untyped-def]
        if id(template) not in self._plain:
            seen.append(threading.current_thread().name.split("_")[0])
        return plain(self, template)

    monkeypatch.setattr(Renderer, "plain", recorded)
    return seen


async def test_a_templates_first_check_is_analysed_off_the_loop(
    service: Service, make_server: MakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = make_server()
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="shop"))
    await service.definitions.create(
        CLI_ACTOR, app.id, DefinitionCreate.model_validate(definition(server.port, auth=False))
    )
    seen, compiled = analysed_in(monkeypatch), compiled_in(monkeypatch)
    for _ in range(2):  # the second send finds the analysis done
        outcome = await service.messages.send(CLI_ACTOR, app.id, MessageRequest(**SIGN_IN))
        assert outcome.status == "sent"
    assert [name.split("_")[0] for name, _ in seen] == ["connector-check"]
    assert compiled == ["connector-check"]  # the send's render found its plain parts too
    missing = MessageRequest(**SIGN_IN | {"payload": {"otp": "1"}, "locale": "de"})
    with pytest.raises(ConnectorError) as refused:
        await service.messages.send(CLI_ACTOR, app.id, missing)
    assert [name.split("_")[0] for name, _ in seen] == ["connector-check"] * 2
    assert seen[1][1] == "de"  # the template the check chose, not another
    library = SmtpConnector({"host": "127.0.0.1", "port": server.port,
                             "fromEmail": "noreply@example.com"})  # fmt: skip
    with pytest.raises(ConnectorError) as expected:  # the library's check, on this thread
        library.check_payload("SignIn", {"otp": "1"}, "de", allow_fallback=False)
    assert (refused.value.code, str(refused.value)) == (expected.value.code, str(expected.value))
    assert len(server.messages) == 2
