"""Sending through stored definitions, against real aiosmtpd servers: check re-enables or
disables with the connector's error, failover by priority, test sends with censored secrets,
and connector reuse (pooled connections survive between sends)."""

from __future__ import annotations

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SMTP_PASSWORD, SMTP_USER, definition, loopback_policy
from smtp_servers import MakeServer, free_port
from waiting import eventually

from smtp_connector import ConnectorError
from smtp_connector.store import (
    CENSORED,
    CLI_ACTOR,
    AppCreate,
    DefinitionCreate,
    DefinitionPatch,
    MessageRequest,
    Service,
    ServiceError,
)

USER = SMTP_USER


def definition_for(port: int, **fields: object) -> DefinitionCreate:
    return DefinitionCreate.model_validate(definition(port, **fields))


def auth_server(make_server: MakeServer):  # type: ignore[no-untyped-def]
    return make_server(auth_required=True, users={USER: SMTP_PASSWORD})


async def new_app(service: Service) -> str:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="shop", testEmail="ops@example.org"))
    return app.id


async def test_check_success_activates(service: Service, make_server: MakeServer) -> None:
    server = auth_server(make_server)
    app_id = await new_app(service)
    created = await service.definitions.create(
        CLI_ACTOR, app_id, definition_for(server.port, status="disabled")
    )
    outcome = await service.checks.check(CLI_ACTOR, app_id, created.id)
    assert outcome.ok and outcome.definition.status == "active"
    assert outcome.definition.num_errors == 0 and outcome.definition.last_error is None
    (received,) = server.messages
    assert received.rcpt_tos == ["ops@example.org"]
    assert received.auth_login == USER.encode()
    assert b"000000" in received.content  # the test code


async def test_check_failure_disables_and_counts(service: Service, make_server: MakeServer) -> None:
    server = make_server(auth_required=True, users={USER: "another-password"})
    app_id = await new_app(service)
    created = await service.definitions.create(CLI_ACTOR, app_id, definition_for(server.port))
    for expected_errors in (1, 2):
        outcome = await service.checks.check(CLI_ACTOR, app_id, created.id)
        assert not outcome.ok and outcome.error is not None
        assert outcome.definition.status == "disabled"
        assert outcome.definition.num_errors == expected_errors
    last = outcome.definition.last_error
    assert last is not None and last.code == "auth_failed" and last.smtp_code == 535
    assert SMTP_PASSWORD not in last.message
    assert server.messages == []
    stored = await service.definitions.get(CLI_ACTOR, app_id, created.id)
    assert (stored.status, stored.num_errors) == ("disabled", 2)


async def test_check_needs_test_email(service: Service, make_server: MakeServer) -> None:
    app = await service.apps.create(CLI_ACTOR, AppCreate(name="no-test-address"))
    created = await service.definitions.create(CLI_ACTOR, app.id, definition_for(free_port()))
    with pytest.raises(ServiceError, match="testEmail"):
        await service.checks.check(CLI_ACTOR, app.id, created.id)


async def test_failover_by_priority(service: Service, make_server: MakeServer) -> None:
    backup = auth_server(make_server)
    spare = auth_server(make_server)
    app_id = await new_app(service)
    dead = await service.definitions.create(
        CLI_ACTOR, app_id, definition_for(free_port(), priority=0)
    )
    second = await service.definitions.create(
        CLI_ACTOR, app_id,
        definition_for(backup.port, priority=5, fromEmail="backup@example.com"),
    )  # fmt: skip
    await service.definitions.create(CLI_ACTOR, app_id, definition_for(spare.port, priority=9))
    outcome = await service.messages.send(
        CLI_ACTOR, app_id, MessageRequest(to="user@example.org", usageType="SignIn",
                                          payload={"code": "482913"})
    )  # fmt: skip
    assert outcome.status == "sent" and outcome.result is not None
    assert outcome.result.server == f"127.0.0.1:{backup.port}"
    assert outcome.definition_id == second.id
    assert outcome.result.attempts == 2  # the dead one first, then the next by priority
    (received,) = backup.messages
    assert received.mail_from == "backup@example.com"  # the failover server's own From
    assert b"482913" in received.content
    assert spare.messages == []
    assert dead.id != second.id


async def test_disabled_definitions_are_skipped(service: Service, make_server: MakeServer) -> None:
    first, second = auth_server(make_server), auth_server(make_server)
    app_id = await new_app(service)
    primary = await service.definitions.create(
        CLI_ACTOR, app_id, definition_for(first.port, priority=0)
    )
    await service.definitions.create(CLI_ACTOR, app_id, definition_for(second.port, priority=1))
    request = MessageRequest(to="user@example.org", payload={"code": "1"})
    await service.messages.send(CLI_ACTOR, app_id, request)
    await service.definitions.update(
        CLI_ACTOR, app_id, primary.id, DefinitionPatch(status="disabled")
    )
    await service.messages.send(CLI_ACTOR, app_id, request)
    assert (len(first.messages), len(second.messages)) == (1, 1)


async def test_no_active_definition(service: Service) -> None:
    app_id = await new_app(service)
    with pytest.raises(ServiceError) as refused:
        await service.messages.send(
            CLI_ACTOR, app_id, MessageRequest(to="user@example.org", payload={"code": "123456"})
        )
    assert refused.value.reason == "unavailable"


async def test_connector_reused_until_definitions_change(
    service: Service, make_server: MakeServer
) -> None:
    server = auth_server(make_server)
    app_id = await new_app(service)
    created = await service.definitions.create(CLI_ACTOR, app_id, definition_for(server.port))
    request = MessageRequest(to="user@example.org", payload={"code": "1"})
    for _ in range(3):
        await service.messages.send(CLI_ACTOR, app_id, request)
    assert server.connections == 1  # one pooled connection carried all three
    await service.definitions.update(
        CLI_ACTOR, app_id, created.id, DefinitionPatch(fromName="Shop")
    )
    await service.messages.send(CLI_ACTOR, app_id, request)
    assert server.connections == 2  # the change built a new connector ...
    # ... and closed the old one's connection (seen by the server's thread when it gets to run)
    await eventually(lambda: server.open_connections == 1)
    assert b"Shop" in server.messages[-1].content


async def test_enqueue_definitions_send_directly_for_now(
    service: Service, make_server: MakeServer
) -> None:
    server = auth_server(make_server)
    app_id = await new_app(service)
    await service.definitions.create(CLI_ACTOR, app_id, definition_for(server.port, enqueue=True))
    outcome = await service.messages.send(
        CLI_ACTOR, app_id, MessageRequest(to="user@example.org", payload={"code": "123456"})
    )
    assert outcome.status == "sent" and len(server.messages) == 1
    assert await service.messages.status(CLI_ACTOR, "anything") is None


async def test_test_send_with_censored_secret(service: Service, make_server: MakeServer) -> None:
    server = auth_server(make_server)
    app_id = await new_app(service)
    stored = await service.definitions.create(
        CLI_ACTOR, app_id, definition_for(server.port, name="main")
    )
    same = definition_for(server.port, password=CENSORED)
    await service.checks.test_send(CLI_ACTOR, app_id, same, "ops@example.org", stored_name="main")
    assert server.messages[-1].auth_login == USER.encode()

    # The stored password never goes to another host, port or user.
    elsewhere = [definition_for(free_port(), password=CENSORED),
                 definition_for(server.port, password=CENSORED, username="x@example.com"),
                 definition_for(server.port, password=CENSORED, host="localhost")]  # fmt: skip
    for candidate in elsewhere:
        with pytest.raises(ServiceError) as refused:
            await service.checks.test_send(
                CLI_ACTOR, app_id, candidate, "ops@example.org", stored_id=stored.id
            )
        assert refused.value.reason == "invalid"
    with pytest.raises(ServiceError):  # no stored definition named: nothing to reuse
        await service.checks.test_send(CLI_ACTOR, app_id, same, "ops@example.org")
    assert len(server.messages) == 1


async def test_test_send_failure_is_connector_error(service: Service) -> None:
    app_id = await new_app(service)
    with pytest.raises(ConnectorError) as failed:
        await service.checks.test_send(
            CLI_ACTOR, app_id, definition_for(free_port()), "ops@example.org"
        )
    assert failed.value.code.value == "connection_failed"
    entries = await service.audit.entries(CLI_ACTOR, app_id=app_id)
    assert entries[0].action == "definition.test_send" and not entries[0].success


async def test_connections_closed_at_shutdown(sqlite_url: str, make_server: MakeServer) -> None:
    from service_support import SECRET_KEY

    server = auth_server(make_server)
    opened = await Service.open(sqlite_url, SECRET_KEY, policy=loopback_policy())
    app_id = await new_app(opened)
    await opened.definitions.create(CLI_ACTOR, app_id, definition_for(server.port))
    await opened.messages.send(
        CLI_ACTOR, app_id, MessageRequest(to="user@example.org", payload={"code": "123456"})
    )
    assert server.open_connections == 1  # kept warm for the next send
    await opened.aclose()
    await eventually(lambda: server.open_connections == 0)
    assert b"QUIT" in b"".join(server.chunks)
