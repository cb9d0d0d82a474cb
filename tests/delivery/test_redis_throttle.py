"""`throttle.store: "redis://…"`: the abuse limits hold across processes. Two real connector
processes share one Redis (the machine's, db 13, keys removed before and after) and send to
one aiosmtpd server; what the server received is what counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator

import pytest
from smtp_servers import TestServer, config_for

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector

REDIS_URL = "redis://127.0.0.1:6379/13"

WORKER = textwrap.dedent(
    """
    import asyncio, json, sys
    from smtp_connector import ConnectorError, SmtpConnector

    async def main(config, tag):
        outcomes = []
        async with SmtpConnector(config) as connector:
            for to in ["same@example.org"] * 3 + [f"{tag}-{i}@example.org" for i in range(5)]:
                try:
                    await connector.send(to, "SignIn", {"code": "123456"})
                    outcomes.append([to, "sent", None])
                except ConnectorError as error:
                    outcomes.append([to, error.code.value, error.retry_after])
        print(json.dumps(outcomes))

    asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2]))
    """
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def redis_db() -> Iterator[str]:
    try:
        import redis
    except ImportError:
        if _in_ci():
            pytest.fail("redis-py is required on CI (extra `redis` / `test`)")
        pytest.skip("redis-py not installed (extra `redis`)")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        if _in_ci():
            pytest.fail(f"Redis is required on CI: {exc}")
        pytest.skip(f"Redis not reachable on 127.0.0.1:6379 ({exc})")

    def clean() -> None:
        keys = list(client.scan_iter("smtp-connector:*"))
        if keys:
            client.delete(*keys)

    clean()
    yield REDIS_URL
    clean()
    client.close()


@pytest.fixture
def smtp_server(make_server: Callable[..., TestServer]) -> TestServer:
    return make_server()


def test_limits_hold_across_two_connector_processes(redis_db: str, smtp_server: TestServer) -> None:
    throttle = {"perRecipientInterval": 600_000, "globalHourly": 6, "store": redis_db}
    config = json.dumps(config_for(smtp_server, throttle=throttle, ignoreTLS=True))
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, config, tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    outcomes = []
    for run in runs:
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        outcomes += json.loads(out)
    sent = [to for to, result, _ in outcomes if result == "sent"]
    limited = [(to, wait) for to, result, wait in outcomes if result == "rate_limited"]
    assert len(outcomes) == 16 and len(sent) + len(limited) == 16
    assert sent.count("same@example.org") == 1  # one code per interval, whichever process
    assert len(sent) == 6  # the global hourly cap, counted across both processes
    assert all(wait and wait > 0 for _, wait in limited)
    received = sorted(rcpt for message in smtp_server.messages for rcpt in message.rcpt_tos)
    assert received == sorted(sent)


RATE_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from smtp_connector import SmtpConnector

    async def main(config, tag):
        done = []
        async with SmtpConnector(config) as connector:
            async def one(i):
                await connector.send(f"{tag}-{i}@example.org", "SignIn", {"code": "1"})
                done.append(time.time())
            await asyncio.gather(*(one(i) for i in range(6)))
        print(json.dumps(done))

    asyncio.run(main(json.loads(sys.argv[1]), sys.argv[2]))
    """
)


def test_server_rate_limit_is_one_window_across_two_processes(
    redis_db: str, smtp_server: TestServer
) -> None:
    """`rateLimit` 4 per 3 s with a Redis store: two processes sending 6 each share the window,
    so no second of the run sees more than 4 sends (each process alone would allow 8). What is
    timed is each send's end: the 2 s between a one-second span and the window are room for a
    send finishing late on a loaded machine (a window's sends ending near the next's)."""
    config = config_for(smtp_server, ignoreTLS=True, throttle={"store": redis_db})
    config["rateLimit"] = {"maxMessages": 4, "rateDelta": 3000}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", RATE_WORKER, json.dumps(config), tag],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    finished: list[float] = []
    for run in runs:
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        finished += json.loads(out)
    finished.sort()
    assert len(finished) == 12 and len(smtp_server.messages) == 12
    busiest = max(sum(1 for t in finished if start <= t < start + 1.0) for start in finished)
    assert busiest <= 4, f"{busiest} sends within one second across both processes"


async def test_unreachable_redis_refuses_to_send_and_hides_the_password(
    smtp_server: TestServer,
) -> None:
    pytest.importorskip("redis")
    store = "redis://:Red1s-pa55word@127.0.0.1:1/0"
    config = config_for(
        smtp_server, throttle={"perRecipientInterval": 1000, "store": store}, ignoreTLS=True
    )
    async with SmtpConnector(config) as connector:
        with pytest.raises(ConnectorError) as caught:
            await connector.send("a@example.org", "SignIn", {"code": "1"})
    assert caught.value.code is ErrorCode.RATE_LIMITED and caught.value.retryable
    assert "Red1s-pa55word" not in str(caught.value) and smtp_server.messages == []
