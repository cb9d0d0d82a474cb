"""Schemathesis over `/openapi.json` of a real `serve` process: generated valid and invalid
requests (bodies, paths, query strings) must never get a 500, and every response must match
the status codes, content types and schemas the OpenAPI document declares.

Operations that deliver mail are fuzzed without the power to reach an SMTP server: the
send route and the template test send with a read-only key bound to an app that has no
definitions (so nothing is sent), and privacyIDEA's send_test_email not at all (generated hosts
could be real addresses; its input handling has its own tests). The other mail-sending
operations (native and seed 000 `check`) act on stored definitions by random ids the generator
cannot guess, so they only ever answer "not found" here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode
from service_support import ServeProcess, create_key_cli, env_with, start_serve

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, dict]]:
    folder = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{folder / 'fuzz.db'}"
    env = env_with(SMTP_CONNECTOR_AUTH_FAILURE_LIMIT="0")  # invalid keys are generated too
    admin = create_key_cli(url, env=env)
    process = start_serve(url, folder / "serve.log", env)
    import httpx

    httpx.post(
        f"{process.base_url}/v1/apps",
        json={"name": "empty", "id": "empty"},
        headers={"Authorization": f"Bearer {admin}"},
    ).raise_for_status()
    sender = create_key_cli(url, "smtpserver_read", app="empty", env=env)
    keys = {"admin": admin, "sender": sender}
    yield process, keys
    process.stop()


def fuzz_operation(operation: object, headers: dict[str, str], statuses: Counter[int]) -> list[str]:
    """Run valid and invalid generated requests against one operation; returns failures."""
    failures: list[str] = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(generation_mode=mode))  # type: ignore[attr-defined]
        @FUZZ
        def run(case: schemathesis.Case) -> None:
            response = case.call_and_validate(headers=headers, checks=CHECKS, timeout=30)
            statuses[response.status_code] += 1

        try:
            run()
        except Unsatisfiable:
            pass  # nothing to make invalid (an operation without inputs)
        except Exception as error:  # a failed check, reported with the operation's name
            failures.append(f"{operation} [{mode.value}]: {error}")
    return failures


def operations(process: ServeProcess) -> dict[str, object]:
    schema = schemathesis.openapi.from_url(f"{process.base_url}/openapi.json")
    found = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        found[f"{operation.method.upper()} {operation.path}"] = operation
    return found


def test_openapi_fuzz(served: tuple[ServeProcess, dict]) -> None:
    process, keys = served
    found = operations(process)
    assert len(found) >= 15, sorted(found)
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for name, operation in sorted(found.items()):
        if name == f"POST {TEST_EMAIL}":
            continue  # could reach a generated host; see the module docstring
        key = keys["sender"] if name in (f"POST {SEND}", f"POST {TEMPLATE_TEST}") else keys["admin"]
        failures += fuzz_operation(operation, {"Authorization": f"Bearer {key}"}, statuses)
    assert not failures, "\n\n".join(failures)
    # It did exercise the API: successes, refusals of bad input, and missing resources.
    assert statuses[200] and statuses[422] and statuses[404], statuses
    assert sum(statuses.values()) >= 200, statuses
    assert "Traceback" not in Path(process.log).read_text()


SEND = "/v1/apps/{app_id}/messages"
TEMPLATE_TEST = "/v1/apps/{app_id}/templates/test"  # sends mail too: the read-only key
TEST_EMAIL = "/smtpserver/send_test_email"
