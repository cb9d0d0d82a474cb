"""`serve` runs the queue: a real `smtp-connector serve` process on SQLite answers 202 for an
`enqueue` definition and its embedded worker delivers to a real aiosmtpd server."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import SMTP_PASSWORD, create_key_cli, env_with, start_serve
from smtp_servers import Behaviour, TestServer


def test_serve_queues_and_its_embedded_worker_delivers(tmp_path: Path) -> None:
    smtp = TestServer(behaviour=Behaviour(users={"mailer@example.com": SMTP_PASSWORD})).start()
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    env = env_with()
    key = create_key_cli(url, env=env)
    served = start_serve(url, tmp_path / "serve.log", env=env)
    try:
        with httpx.Client(base_url=served.base_url, timeout=30,
                          headers={"Authorization": f"Bearer {key}"}) as client:  # fmt: skip
            app = client.post("/v1/apps", json={"name": "shop"}).json()["id"]
            definition = {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                          "username": "mailer@example.com", "password": SMTP_PASSWORD,
                          "fromEmail": "noreply@example.com", "enqueue": True}  # fmt: skip
            assert client.post(f"/v1/apps/{app}/servers", json=definition).status_code == 201
            sent = client.post(
                f"/v1/apps/{app}/messages",
                json={"to": "ana@example.org", "payload": {"code": "777111"}},
            )
            assert sent.status_code == 202, sent.text
            message = sent.json()["id"]
            deadline = time.monotonic() + 60  # a limit for a loaded machine, not a speed claim
            while (state := client.get(f"/v1/messages/{message}").json())["status"] != "sent":
                assert state["status"] in ("queued", "sending"), state
                assert time.monotonic() < deadline, state
                time.sleep(0.05)
            assert state["attempts"] == 1 and state["messageId"]
            assert client.get("/v1/queue").json()["depth"]["sent"] == 1
    finally:
        served.stop()
        smtp.stop()
    assert [m.rcpt_tos for m in smtp.messages] == [["ana@example.org"]]
    assert b"777111" in smtp.messages[0].content
    assert SMTP_PASSWORD not in (tmp_path / "serve.log").read_text()
