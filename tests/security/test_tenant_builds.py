"""Finding 5: one tenant froze every app. Its connector (~20 ms per definition) was rebuilt on
the event loop, so while an app with hundreds of definitions was being built no other app's
request was answered. Builds now run in worker threads: a send of app A completes while app
B's build is in progress.

Measured without timing: the real `serve` (at `--log-level info`) logs "building the
connector of app B" and "finished building …" from its event loop, and uvicorn logs each
answered request there too, in order. Requests of app A answered between B's two lines prove
the loop kept serving during B's build; with the build on the loop there can be none (checked
by hand when this was written: 0 of 12 windows). Speed: benchmarks/tenant_builds.py.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import (
    SECRET_KEY,
    definition,
    key_headers,
    loopback_policy,
    serve_env,
    start_serve,
)
from smtp_servers import Behaviour, TestServer

from smtp_connector.store import CLI_ACTOR, AppCreate, DefinitionCreate, Service

B_DEFINITIONS = 200  # above the default cap of 50: an operator raised it
CAP = 200
REBUILDS = 12
SENDERS = 3


@pytest.fixture
def smtp() -> Iterator[TestServer]:
    server = TestServer(behaviour=Behaviour()).start()
    yield server
    server.stop()


async def prepare(url: str, port: int) -> list[str]:
    """alpha with one definition, bravo with B_DEFINITIONS (made here: 200 HTTP calls would
    only slow the test down); returns bravo's definition ids."""
    service = await Service.open(url, SECRET_KEY, migrate=True, policy=loopback_policy(),
                                 max_definitions_per_app=CAP)  # fmt: skip
    try:
        ids = []
        for app_id, count in (("alpha", 1), ("bravo", B_DEFINITIONS)):
            await service.apps.create(CLI_ACTOR, AppCreate(name=app_id, id=app_id))
            for n in range(count):
                fields = definition(port, username=None, password=None, priority=n)
                data = DefinitionCreate.model_validate(fields)
                ids.append((await service.definitions.create(CLI_ACTOR, app_id, data)).id)
        return ids[1:]
    finally:
        await service.aclose()


def send(client: httpx.Client, app_id: str) -> int:
    body = {"to": "ana@example.org", "usageType": "SignIn", "payload": {"code": "123456"}}
    return client.post(f"/v1/apps/{app_id}/messages", json=body).status_code


def answered_during_builds(log: str, builder: str, sender: str) -> tuple[int, int]:
    """(builds of `builder` seen, requests of `sender` answered while one was running)."""
    start = f"building the connector of app {builder} "
    end = f"finished building the connector of app {builder} "
    answer = re.compile(rf'"POST /v1/apps/{sender}/messages HTTP/1\.1" 200')
    builds = inside = 0
    building = False
    for line in log.splitlines():
        if end in line:  # first: it contains `start`
            builds += building
            building = False
        elif start in line:
            building = True
        elif building and answer.search(line):
            inside += 1
    return builds, inside


def test_a_send_does_not_wait_for_another_apps_build(tmp_path: Path, smtp: TestServer) -> None:
    url = f"sqlite:///{tmp_path / 'service.db'}"
    b_ids = asyncio.run(prepare(url, smtp.port))
    headers = key_headers(url)
    log = tmp_path / "serve.log"
    env = serve_env(SMTP_CONNECTOR_MAX_DEFINITIONS_PER_APP=str(CAP))
    served = start_serve(url, log, env, "info")
    statuses: list[int] = []
    try:
        with httpx.Client(base_url=served.base_url, headers=headers, timeout=60) as client:
            assert send(client, "alpha") == 200  # alpha's connector is warm from here on
            done = threading.Event()

            def keep_sending() -> None:
                with httpx.Client(base_url=served.base_url, headers=headers, timeout=60) as own:
                    while not done.is_set():
                        statuses.append(send(own, "alpha"))

            senders = [threading.Thread(target=keep_sending) for _ in range(SENDERS)]
            for thread in senders:
                thread.start()
            try:
                for n in range(REBUILDS):  # each change makes bravo's next send rebuild it
                    patch = {"description": f"change {n}"}
                    changed = client.patch(f"/v1/apps/bravo/servers/{b_ids[-1]}", json=patch)
                    assert changed.status_code == 200, changed.text
                    assert send(client, "bravo") == 200
            finally:
                done.set()
                for thread in senders:
                    thread.join()
            # bravo is at the operator's cap: one more is refused, with what to do instead
            extra = definition(smtp.port, username=None, password=None)
            refused = client.post("/v1/apps/bravo/servers", json=extra)
            assert refused.status_code == 409, refused.text
            assert f"the most one app may have ({CAP})" in refused.json()["error"]["message"]
    finally:
        served.stop()
    assert statuses and set(statuses) == {200}
    builds, inside = answered_during_builds(log.read_text(), "bravo", "alpha")
    assert builds >= REBUILDS, f"{builds} bravo builds logged"
    assert inside >= 1, f"no alpha send answered during any of {builds} bravo builds"
