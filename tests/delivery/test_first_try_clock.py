"""A first try's success reads the clock once for the attempt's seconds and the send's
duration: the attempt never outlasts the send, on `send` and on `send_many`'s inline path."""

from __future__ import annotations

from smtp_servers import MakeServer, config_for

from smtp_connector import SendResult, SmtpConnector


def _check(result: SendResult) -> None:
    assert result.attempts == 1 and len(result.attempt_log) == 1
    seconds = result.attempt_log[0].seconds
    assert 0.0 <= seconds <= result.duration < 60.0


async def test_an_attempt_never_outlasts_its_send(make_server: MakeServer) -> None:
    server = make_server(pipelining=True)
    async with SmtpConnector(config_for(server)) as sender:
        _check(await sender.send("user@example.org", "SignIn", {"code": "123456"}))
        requests = [
            {"to": f"u{i}@example.org", "usage_type": "SignIn", "payload": {"code": "123456"}}
            for i in range(20)
        ]
        results = await sender.send_many(requests, concurrency=5)
    for result in results:
        assert isinstance(result, SendResult)
        _check(result)
    assert len(server.messages) == 21
