"""Templates per app (issue 24): how long a save, a refused bomb, a preview and a send take.

    .venv/bin/python benchmarks/template_saves.py            # ≈ 30 s

A real `smtp-connector serve` (SQLite) and postfix's `smtp-sink`. Measures, over HTTP with one
keep-alive connection: a valid save (PUT, checked in the sandbox first), each template bomb's
refusal at save (422; the issue asks for "within a second": the render-time bomb is bounded by
the sandbox's 1 s render budget, the others stop at their first over-limit operation), a
preview, and the p50 of a direct send rendered from the app's stored template against one
rendered from the shipped one (the provider adds no cost to a warm send).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from service import BIN, Http, cli, env, processes, wait_healthy
from sink import free_port, smtp_sink

BOMBS = {
    "output size": "{{ 'a' * 10**9 }}",
    "padding width": "{{ 'a'|center(10**9) }}",
    "loop iterations": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    ),
    "huge integer": "{{ 10 ** (10 ** 8) }}",
    "lipsum": "{{ lipsum(10**6) }}",
    "recursion": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "render time": "{% for i in range(99999) %}{% for j in range(9) %}"
    "{{ (i ~ j)|reverse|upper|lower|trim|length }}{% endfor %}{% endfor %}",
    "syntax error": "<p>{{code}}</p>\n{% if %}",
}
TEMPLATE = {"subject": "Code {{code}}", "content": "<p>Your code: <b>{{code}}</b></p>"}


async def timed(http: Http, method: str, path: str, body: object, want: int) -> float:
    started = time.perf_counter()
    status, answer = await http.call(method, path, body)
    elapsed = (time.perf_counter() - started) * 1000
    if status != want:
        raise SystemExit(f"{method} {path}: {status} {answer[:300]!r}")
    return elapsed


async def measure(port: int, key: str, sink: int) -> None:
    async with Http(port, key) as http:
        status, body = await http.call(
            "POST", "/v1/apps", {"name": "shop", "id": "shop", "fromEmail": "otp@shop.example.com"}
        )
        assert status == 201, body
        definition = {"host": "127.0.0.1", "port": sink, "security": "none", "auth": False}
        assert (await http.call("POST", "/v1/apps/shop/servers", definition))[0] == 201
        base = "/v1/apps/shop/templates"
        saves = [await timed(http, "PUT", f"{base}/SignIn/en", TEMPLATE, 201 if n == 0 else 200)
                 for n in range(10)]  # fmt: skip
        print(f"valid save (PUT)            p50 {statistics.median(saves):7.1f} ms")
        for name, content in BOMBS.items():
            body = {"subject": "Code {{code}}", "content": content}
            runs = [await timed(http, "PUT", f"{base}/Register/en", body, 422) for _ in range(3)]
            median = statistics.median(runs)
            print(f"refused: {name:<18} worst {max(runs):7.1f} ms (median {median:.1f})")
        preview = {"usageType": "SignIn", "locale": "en"}
        previews = [await timed(http, "POST", f"{base}/preview", preview, 200) for _ in range(30)]
        print(f"preview (stored)            p50 {statistics.median(previews):7.1f} ms")
        for usage in ("SignIn", "ForgotPassword"):  # stored vs shipped
            send = {"to": "a@example.org", "usageType": usage, "payload": {"code": "123456"}}
            for _ in range(20):  # warm the connector and the compiled template
                await http.call("POST", "/v1/apps/shop/messages", send)
            runs = [await timed(http, "POST", "/v1/apps/shop/messages", send, 200)
                    for _ in range(300)]  # fmt: skip
            source = "app template" if usage == "SignIn" else "shipped"
            print(f"direct send, {source:<14} p50 {statistics.median(runs):7.2f} ms")


async def main() -> None:
    with tempfile.TemporaryDirectory() as workdir, smtp_sink() as sink:
        url = f"sqlite:///{Path(workdir) / 'bench.db'}"
        environ = env()
        key = cli(
            "keys",
            "create",
            "--database-url",
            url,
            "--scope",
            "smtpserver_read",
            "--scope",
            "smtpserver_write",
            "--scope",
            "smtpserver_send",
            environ=environ,
        )
        port = free_port()
        serve = [str(BIN), "serve", "--port", str(port), "--database-url", url,
                 "--log-level", "warning"]  # fmt: skip
        with processes(serve, environ=environ):
            await wait_healthy(port)
            await measure(port, key, sink)


if __name__ == "__main__":
    asyncio.run(main())
