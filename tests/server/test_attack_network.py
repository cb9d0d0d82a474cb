"""Issue 27, findings 6 and 18 (host forms), against a real `smtp-connector serve`: a tenant
cannot aim the service at this machine, a metadata service or another protocol's port (the
port scanner / SSRF), at save, at check or at send, and hosts have one canonical form."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import (
    SMTP_PASSWORD,
    SMTP_USER,
    ServeProcess,
    create_key_cli,
    definition,
    env_with,
    start_serve,
)
from smtp_servers import MakeServer

SSH_BANNER = b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3 secret-build-tag\r\n"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class Serves:
    """serve processes on one SQLite file, started with the policy a test asks for."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = f"sqlite:///{folder / 'service.db'}"
        self.key = create_key_cli(self.url)
        self.running: list[ServeProcess] = []

    def start(self, policy: str | None) -> httpx.Client:
        for serve in self.running:
            serve.stop()
        env = env_with(SMTP_CONNECTOR_NETWORK_POLICY=policy) if policy else env_with()
        if policy is None:
            env.pop("SMTP_CONNECTOR_NETWORK_POLICY")  # the default, as an operator gets it
        serve = start_serve(self.url, self.folder / f"serve-{len(self.running)}.log", env)
        self.running.append(serve)
        return httpx.Client(base_url=serve.base_url, headers=bearer(self.key), timeout=30)


@pytest.fixture
def serves(tmp_path: Path) -> Iterator[Serves]:
    started = Serves(tmp_path)
    yield started
    for serve in started.running:
        serve.stop()


def make_app(http: httpx.Client, name: str = "shop") -> str:
    made = http.post("/v1/apps", json={"name": name, "testEmail": "ops@example.org"})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def own_name_on_loopback() -> str | None:
    """This machine's host name, when it resolves to loopback only (Debian's /etc/hosts):
    a name no deny list knows, which only the resolved-address check can catch."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 25)}
    except OSError:
        return None
    return name if addresses and all(a.startswith("127.") for a in addresses) else None


THIS_MACHINE = ["127.0.0.1", "localhost", "LOCALHOST.", "0.0.0.0", "::1", "127.0.0.53",
                "169.254.169.254", "metadata.google.internal", "fe80::1", "100.100.100.200",
                "::ffff:127.0.0.1", "api.localhost"]  # fmt: skip


def test_definitions_cannot_point_at_this_machine(serves: Serves, make_server: MakeServer) -> None:
    live = make_server(users={SMTP_USER: SMTP_PASSWORD})
    own = own_name_on_loopback()
    with serves.start(policy=None) as http:
        app = make_app(http)
        for host in [*THIS_MACHINE, *([own] if own else [])]:
            made = http.post(f"/v1/apps/{app}/servers", json=definition(live.port, host=host))
            assert made.status_code == 400, (host, made.text)
            message = made.json()["error"]["message"]
            assert "SMTP_CONNECTOR_NETWORK_POLICY" in message and "`host`" in message
        # The test-send buttons are the same door.
        pi = http.post(
            "/smtpserver/send_test_email",
            headers={"Authorization": serves.key},
            json={
                "server": "127.0.0.1",
                "port": live.port,
                "identifier": "x",
                "recipient": "a@example.org",
                "sender": "s@example.com",
            },
        )
        assert pi.status_code == 400 and "SMTP_CONNECTOR_NETWORK_POLICY" in pi.text
        # Private ranges are where self-hosted relays live: allowed by default.
        relay = http.post(f"/v1/apps/{app}/servers", json=definition(25, host="10.20.30.40"))
        assert relay.status_code == 201, relay.text
    assert live.connections == 0 and live.messages == []


def test_the_policy_is_applied_again_at_check_and_send(
    serves: Serves, make_server: MakeServer
) -> None:
    """A definition saved while loopback was allowed (or whose name now resolves elsewhere)
    is refused on the addresses the connection would use, before any connection."""
    live = make_server(users={SMTP_USER: SMTP_PASSWORD})
    with serves.start(policy="any") as http:
        app = make_app(http)
        made = http.post(f"/v1/apps/{app}/servers", json=definition(live.port))
        assert made.status_code == 201
        sent = http.post(f"/v1/apps/{app}/messages", json={"to": "a@example.org"})
        assert sent.status_code == 200 and len(live.messages) == 1
    connections = live.connections
    with serves.start(policy="private") as http:
        sent = http.post(f"/v1/apps/{app}/messages", json={"to": "b@example.org"})
        assert sent.status_code == 502, sent.text
        assert "network policy refuses" in sent.json()["error"]["message"]
        check = http.post(f"/v1/apps/{app}/servers/{made.json()['id']}/check")
        assert check.status_code == 406
        assert "loopback" in check.json()["error"]["message"]
    assert live.connections == connections and len(live.messages) == 1
    with serves.start(policy="private,+127.0.0.1/32") as http:  # the operator's exception
        assert http.post(f"/v1/apps/{app}/servers/{made.json()['id']}/check").status_code == 200


def test_another_protocols_banner_never_comes_back(serves: Serves) -> None:
    """A port that speaks first (SSH, a database) is reported as "not an SMTP server"; its
    banner is neither in the answer nor in the stored lastError."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def banner_server() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(SSH_BANNER)
                conn.recv(1024)

    threading.Thread(target=banner_server, daemon=True).start()
    try:
        with serves.start(policy="any") as http:
            app = make_app(http)
            made = http.post(f"/v1/apps/{app}/servers", json=definition(port)).json()
            check = http.post(f"/v1/apps/{app}/servers/{made['id']}/check")
            stored = http.get(f"/v1/apps/{app}/servers/{made['id']}").json()
    finally:
        listener.close()
    assert check.status_code == 406
    assert "not an SMTP server" in check.json()["error"]["message"]
    for text in (check.text, str(stored["lastError"])):
        assert "SSH" not in text and "secret-build-tag" not in text


HOST_FORMS = {
    # given -> stored (None: refused with a message naming `host`)
    "SMTP.Example.COM.": "smtp.example.com",
    "bücher.example": "xn--bcher-kva.example",
    "2606:4700:4700:0000::1111": "2606:4700:4700::1111",
    "evil.com:25": None,
    "[2606:4700::1111]": None,
    "2130706433": None,
    "0x7f.1": None,
    "127.1": None,
    "smtp.example.com/path": None,
    "user@smtp.example.com": None,
    "smtp example.com": None,
    "-smtp.example.com": None,
}


def test_a_host_has_one_canonical_form(serves: Serves) -> None:
    with serves.start(policy=None) as http:
        app = make_app(http)
        for given, stored in HOST_FORMS.items():
            made = http.post(f"/v1/apps/{app}/servers", json=definition(25, host=given))
            if stored is None:
                assert made.status_code == 422, (given, made.text)
                assert "`host`" in made.json()["error"]["message"]
            else:
                assert made.status_code == 201, (given, made.text)
                assert made.json()["host"] == stored


def test_a_bad_policy_stops_serve_at_start(tmp_path: Path) -> None:
    from service_support import cli

    url = f"sqlite:///{tmp_path / 'x.db'}"
    env = env_with(SMTP_CONNECTOR_NETWORK_POLICY="privat,+10.0.0.0/33")
    started = cli("serve", "--database-url", url, "--port", "0", env=env, check=False)
    assert started.returncode == 2
    assert "SMTP_CONNECTOR_NETWORK_POLICY" in started.stderr and "Traceback" not in started.stderr
