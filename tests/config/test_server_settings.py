"""`ServerSettings` builds its validator on first use (`defer_build`), its subclasses when they are
declared. Whichever way it was built, a bare `ServerSettings` validates a server's settings
exactly as `ServerConfig` (its subclass, built eagerly) validates the same keys: the same
values when accepted, the same errors (type, place, message) when refused. Each example runs in
a fresh interpreter's first use as well, so the deferred build itself is what is compared."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pydantic
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector.config import ServerConfig, ServerSettings

_TEXT = st.sampled_from(["smtp.example.com", " smtp.example.com ", "bad host", "", "mx/1", "é"])
_INTS = st.one_of(st.integers(-5, 70000), st.sampled_from(["25", "x", 2.5, True, None]))
_FLAGS = st.one_of(st.booleans(), st.sampled_from(["yes", "true", 0, 1, None]))
_AUTH = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"user": st.sampled_from(["me", ""]), "pass": _TEXT}),
    st.sampled_from([{"type": "OAuth2", "user": "me"}, {"type": "ntlm"}, {"bogus": 1}]),
)
_KEYS = {
    "port": _INTS,
    "secure": _FLAGS,
    "requireTLS": _FLAGS,
    "ignore_tls": _FLAGS,
    "opportunisticTLS": _FLAGS,
    "name": _TEXT,
    "servername": _TEXT,
    "connectionTimeout": _INTS,
    "socket_timeout": _INTS,
    "auth": _AUTH,
    "tls": st.one_of(st.none(), st.just({"rejectUnauthorized": False}), st.just({"cert": "x"})),
    "unknownKey": st.just(1),
}
SETTINGS = st.fixed_dictionaries({"host": _TEXT}, optional=_KEYS)

_OUTCOME = """
import json, sys
import pydantic
from smtp_connector.config import ServerSettings
try:
    print(json.dumps({"ok": ServerSettings.model_validate(json.loads(sys.argv[1])).model_dump(
        mode="json", round_trip=True, by_alias=False)}))
except pydantic.ValidationError as exc:
    print(json.dumps({"errors": exc.errors(include_url=False, include_context=False)}))
"""


def _outcome(model: type[ServerSettings], data: dict[str, Any]) -> dict[str, Any]:
    """Accepted: the settings' fields dumped; refused: pydantic's errors (the config layer
    words them: `config_error`)."""
    try:
        dumped = model.model_validate(data).model_dump(mode="json", round_trip=True, by_alias=False)
    except pydantic.ValidationError as exc:
        return {"errors": exc.errors(include_url=False, include_context=False)}
    return {"ok": {name: dumped[name] for name in ServerSettings.model_fields}}


@settings(max_examples=300, deadline=None)
@given(data=SETTINGS)
def test_server_settings_validate_as_server_config(data: dict[str, Any]) -> None:
    assert _outcome(ServerSettings, data) == _outcome(ServerConfig, data)


@settings(max_examples=8, deadline=None)
@given(data=SETTINGS)
def test_a_first_use_in_a_fresh_process_validates_as_server_config(data: dict[str, Any]) -> None:
    run = subprocess.run(
        [sys.executable, "-c", _OUTCOME, json.dumps(data)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(run.stdout) == json.loads(json.dumps(_outcome(ServerConfig, data)))
