"""The HTTP edge in-process, where a real `serve` would only be slower: the head timeout on
both of uvicorn's HTTP parsers (httptools, h11), unexpected errors logged with their traceback
on both paths of the send route, the edge settings' validation, and the many small cases of the
input check and the same-origin comparison. The real-process tests are in tests/security/
(test_edge_*.py, test_portal_csrf.py, test_forwarded_for.py, test_api_docs_assets.py)."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
import uvicorn
from smtp_servers import free_port
from starlette.requests import Request
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from smtp_connector import ConnectorError
from smtp_connector.server import Settings, create_app
from smtp_connector.server.app import install_admin_routers
from smtp_connector.server.csrf import same_origin
from smtp_connector.server.input_guard import BadInput, check_pairs, loads
from smtp_connector.server.runner import head_timeout_protocol, uvicorn_config
from smtp_connector.store import CLI_ACTOR, Service


async def hello(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
    if scope["type"] != "http":
        return
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]}
    await send(start)  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"hello"})  # type: ignore[operator]


@pytest.mark.parametrize("base", [HttpToolsProtocol, H11Protocol], ids=["httptools", "h11"])
async def test_a_slow_head_is_closed_on_both_parsers(base: type) -> None:
    port = free_port()
    config = uvicorn.Config(hello, host="127.0.0.1", port=port, lifespan="off", log_level="error",
                            http=head_timeout_protocol(0.5, base))  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        # A complete request is answered, twice on one connection (keep-alive untouched).
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(2):
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await reader.readuntil(b"hello")).startswith(b"HTTP/1.1 200")
        # Then a head that never completes: closed (EOF), header lines still coming.
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n")
        closed = False
        for number in range(300):  # up to 30 s of header lines; closed after 0.5 s
            writer.write(b"X-Slow-%d: 1\r\n" % number)
            try:
                closed = await asyncio.wait_for(reader.read(100), 0.1) == b""
            except TimeoutError:
                continue
            if closed:
                break
        assert closed
        writer.close()
    finally:
        server.should_exit = True
        await task


def test_serve_config_takes_the_edge_settings() -> None:
    settings = Settings(header_timeout=3, keepalive_timeout=7, trusted_proxies=("10.0.0.0/8",))
    config = uvicorn_config(hello, settings, loop="asyncio", log_level="info")
    assert config.timeout_keep_alive == 7 and config.proxy_headers is True
    assert config.forwarded_allow_ips == ["10.0.0.0/8"]
    assert issubclass(config.http, (HttpToolsProtocol, H11Protocol))  # type: ignore[arg-type]
    assert config.http.head_timeout == 3  # type: ignore[union-attr]
    plain = uvicorn_config(hello, Settings(), loop="asyncio", log_level="info")
    assert plain.proxy_headers is False  # X-Forwarded-For is believed from no one by default
    with pytest.raises(ConnectorError, match="--log-level 'loud'"):
        uvicorn_config(hello, Settings(), loop="asyncio", log_level="loud")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SMTP_CONNECTOR_HEADER_TIMEOUT", "0"),
        ("SMTP_CONNECTOR_BODY_TIMEOUT", "-1"),
        ("SMTP_CONNECTOR_KEEPALIVE_TIMEOUT", "nan"),
        ("SMTP_CONNECTOR_HEADER_TIMEOUT", "soon"),
        ("SMTP_CONNECTOR_BODY_TIMEOUT", "99999"),
        ("SMTP_CONNECTOR_MAX_CONCURRENCY", "0"),
        ("SMTP_CONNECTOR_MAX_CONCURRENCY", "1.5"),
        ("SMTP_CONNECTOR_TRUSTED_PROXIES", "10.0.0.1,proxy.internal"),
    ],
)
def test_bad_edge_settings_are_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(ConnectorError) as info:
        Settings.from_env({variable: value})
    assert variable in info.value.message


def test_edge_settings_from_the_environment() -> None:
    settings = Settings.from_env({
        "SMTP_CONNECTOR_HEADER_TIMEOUT": "2.5", "SMTP_CONNECTOR_BODY_TIMEOUT": "20",
        "SMTP_CONNECTOR_KEEPALIVE_TIMEOUT": "1", "SMTP_CONNECTOR_MAX_CONCURRENCY": "50",
        "SMTP_CONNECTOR_TRUSTED_PROXIES": " 10.0.0.1 , fd00::/8,*",
    })  # fmt: skip
    assert (settings.header_timeout, settings.body_timeout, settings.keepalive_timeout) == (
        2.5, 20.0, 1.0,
    )  # fmt: skip
    assert settings.max_concurrency == 50
    assert settings.trusted_proxies == ("10.0.0.1", "fd00::/8", "*")
    assert Settings.from_env({}).trusted_proxies == ()


async def test_unexpected_errors_log_their_traceback_on_both_paths(
    service: Service, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The short path's 500 used to log nothing; both paths now log the traceback."""
    scopes = ("smtpserver_read", "smtpserver_send", "smtpserver_write")
    _, raw = await service.keys.create(CLI_ACTOR, scopes)
    headers = {"Authorization": f"Bearer {raw}"}

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the send path")

    monkeypatch.setattr(service.messages, "send", broken)
    answers = []
    for short_path in (True, False):
        app = create_app(Settings(), service=service)
        if not short_path:
            vars(app).pop("build_middleware_stack")  # FastAPI's own stack, nothing in front
            install_admin_routers(app)  # nothing in front installs them on first use
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            created = await client.post("/v1/apps", json={"name": f"shop{short_path}"},
                                        headers=headers)  # fmt: skip
            path = f"/v1/apps/{created.json()['id']}/messages"
            caplog.clear()
            with caplog.at_level(logging.ERROR, logger="smtp_connector"):
                answers.append(await client.post(path, json={"to": "a@example.org"},
                                                 headers=headers))  # fmt: skip
            (record,) = [r for r in caplog.records if r.name == "smtp_connector.server"]
            assert record.exc_info and "a bug in the send path" in str(record.exc_info[1])
            frames = logging.Formatter().formatException(record.exc_info)
            assert ("fast_send.py" in frames) is short_path
    fast, full = answers
    assert fast.status_code == full.status_code == 500
    assert fast.json() == full.json() == {"error": {"code": "internal_error", "message":
        "Internal error; see the logs.", "smtpCode": None, "server": None}}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "refusal"),
    [
        ('{"a": {"b": [1, "\\u0002"]}}', "`a.b[1]` contains a control character (U+0002)"),
        ('{"a": [{"\\ud83d": 1}]}', "A key in `a[0]` contains a lone surrogate (U+D83D)"),
        ('"\\u009f"', "The body contains a control character (U+009F)"),
        ('{"n": -1e400}', "`n` is a number too large"),
        ('{"n": [NaN]}', "contains NaN"),
    ],
)
def test_refusals_name_the_place_never_the_value(body: str, refusal: str) -> None:
    with pytest.raises(BadInput) as info:
        loads(body)
    assert refusal in str(info.value)


def test_accepted_values_come_back_as_json_loads_gives_them() -> None:
    text = '{"emoji": "\\ud83d\\udce7 ✉", "tab": "a\\tb\\r\\n", "n": [1, 2.5, -0.0, 1e308]}'
    assert loads(text) == {"emoji": "📧 ✉", "tab": "a\tb\r\n", "n": [1, 2.5, -0.0, 1e308]}
    assert loads("[" * 32 + "]" * 32) is not None
    with pytest.raises(BadInput):
        loads("[" * 33 + "]" * 33)
    with pytest.raises(ValueError):
        loads('{"malformed": ')  # not the guard's refusal: the route answers it


@pytest.mark.parametrize(
    ("raw", "refused"),
    [
        (b"a=1&b=caf%C3%A9+ok&&c=", None),
        (b"a=%0d%0a%09", None),  # CR, LF and tab are text
        (b"a=%1b", "U+001B"),
        (b"%7f=1", "parameter name"),
        (b"a=%C2%9B", "U+009B"),
        (b"a=%ff", "not UTF-8"),
        (b"a=%ED%A0%80", "not UTF-8"),  # a surrogate encoded as UTF-8 is not UTF-8
    ],
)
def test_query_and_form_pairs(raw: bytes, refused: str | None) -> None:
    if refused is None:
        check_pairs(raw, "query")
        return
    with pytest.raises(BadInput) as info:
        check_pairs(raw, "query")
    assert refused in str(info.value)


@pytest.mark.parametrize(
    ("origin", "host", "scheme", "same"),
    [
        ("http://127.0.0.1:8025", "127.0.0.1:8025", "http", True),
        ("http://LOCALHOST:8025", "localhost:8025", "http", True),
        ("https://admin.example.org", "admin.example.org", "https", True),
        ("https://admin.example.org:443", "admin.example.org", "https", True),
        ("http://admin.example.org", "admin.example.org", "https", False),  # scheme
        ("https://evil.example.org", "admin.example.org", "https", False),
        ("http://127.0.0.1:8026", "127.0.0.1:8025", "http", False),  # port
        ("http://[::1]:8025", "[::1]:8025", "http", True),
        ("null", "127.0.0.1:8025", "http", False),
        ("http://127.0.0.1:port", "127.0.0.1:8025", "http", False),
    ],
)
def test_same_origin(origin: str, host: str, scheme: str, same: bool) -> None:
    scope = {"type": "http", "method": "POST", "scheme": scheme, "path": "/",
             "query_string": b"", "server": ("127.0.0.1", 8025),
             "headers": [(b"host", host.encode())]}  # fmt: skip
    assert same_origin(origin, Request(scope)) is same
