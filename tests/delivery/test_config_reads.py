"""A warm send reads none of the config model's attributes it used to read (wire-11, §3).

A config the core-fields reader leaves to the models (`pool`, `retry`, `servers` …) is a
pydantic `SmtpConfig`, whose attributes pass `BaseModel.__getattr__`'s hook on every read
(~900 instructions each). What a send read of it (the default locale, `retry.deadline`,
`socketTimeout`, `pool.maxConnections`) is copied when the connector is built, so sends to a
real aiosmtpd server read none of those, on asyncio and uvloop; an assigned
`connector.config` brings its default locale along, as before. A failover server's own
sender is still read on every send: a name set after load is checked there
(test_strict_receivers.py).
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from equal_paths import loops
from pydantic import BaseModel
from smtp_servers import MakeServer, config_for

from smtp_connector import SmtpConfig, SmtpConnector

# What a send read of the model before it was copied at build (delivery and compose).
COPIED = {"default_locale", "retry", "deadline", "max_connections", "socket_timeout"}


def _requests(count: int) -> list[dict[str, Any]]:
    return [
        {"to": f"user{i}@example.org", "usage_type": "SignIn", "payload": {"code": f"{i:06d}"}}
        for i in range(count)
    ]


class _Reads:
    """Reads of pydantic model attributes, by name, while `counting`."""

    def __init__(self) -> None:
        self.names: Counter[str] = Counter()
        self.counting = False


@pytest.fixture
def model_reads() -> Iterator[_Reads]:
    reads = _Reads()

    def counted(model: BaseModel, name: str) -> Any:
        if reads.counting and not name.startswith("_"):
            reads.names[name] += 1
        return object.__getattribute__(model, name)

    BaseModel.__getattribute__ = counted  # type: ignore[method-assign]
    try:
        yield reads
    finally:
        del BaseModel.__getattribute__  # back to object's: the class never defined it


def _model_config(port: int, **overrides: Any) -> dict[str, Any]:
    """A config with `pool` and `servers`: validated by the model, not the core reader."""
    config = config_for(port, pool={"maxConnections": 2}, **overrides)
    config.pop("retry")
    return config


@pytest.mark.parametrize("new_loop", loops(), ids=["asyncio", "uvloop"])
def test_warm_sends_read_none_of_the_copied_attributes(
    make_server: MakeServer,
    model_reads: _Reads,
    new_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    server = make_server()

    async def run() -> list[Any]:
        async with SmtpConnector(_model_config(server.port)) as connector:
            assert isinstance(connector._config, SmtpConfig)  # the model, not a plain record
            await connector.send_many(_requests(4), concurrency=2)  # warm: pools, shapes
            model_reads.counting = True
            results = await connector.send_many(_requests(40), concurrency=4)
            model_reads.counting = False
            return results

    loop = new_loop()
    try:
        results = loop.run_until_complete(run())
    finally:
        loop.close()
    assert [type(result).__name__ for result in results] == ["SendResult"] * 40
    assert len(server.messages) == 44
    assert not COPIED & set(model_reads.names), model_reads.names


def test_an_assigned_config_brings_its_default_locale() -> None:
    """`connector.config = other` (assignable, as before): a render without a locale gives
    its context the new default locale, as when the model was read on every render."""
    template = {"usageType": "SignIn", "subject": "in {{ locale }}", "content": "{{ code }}"}
    base = {"host": "127.0.0.1", "port": 2525, "fromEmail": "noreply@example.com"}
    connector = SmtpConnector(SmtpConfig.model_validate({**base, "templates": [template]}))
    before = connector.render("SignIn", {"code": "123456"})
    connector.config = SmtpConfig.model_validate({**base, "defaultLocale": "de"})
    after = connector.render("SignIn", {"code": "123456"})
    given = connector.render("SignIn", {"code": "123456"}, locale="fr")
    assert (before.subject, after.subject, given.subject) == ("in en", "in de", "in fr")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
