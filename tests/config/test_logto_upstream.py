"""Logto's connector-smtp config guard, case by case, in our words.

Upstream (logto-io/logto, packages/connectors/connector-smtp/src/index.test.ts, "Test config
guard") parses each config with its zod schema and checks that what comes out contains what
went in (`toMatchObject(objectContaining(config))`). Ours: the config loads, and written back
with `to_dict(reveal_secrets=True)` it equals what was read, key for key. The payloads are
upstream's mock configs (src/mock.ts), values and all. The template details guard
(connector-kit's `emailTemplateDetailsGuard`) is checked the same way for a template. Sending
cases are in tests/delivery/test_logto_upstream_send.py.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pytest
from logto_mocks import (
    CONNECTION_INVALID,
    CONNECTION_VALID,
    DEBUGGING,
    MOCKED_CONFIG,
    OAUTH2_WITH_KEY,
    OAUTH2_WITH_TOKEN,
    SECURITY,
    TLS_WITH_TLS_OBJECT,
    TLS_WITHOUT_TLS_OBJECT,
)

from smtp_connector import (
    ConfigWarning,
    ConnectorError,
    ContentType,
    EmailTemplate,
    ErrorCode,
    SmtpConfig,
    SmtpConnector,
)


def config(**patch: Any) -> dict[str, Any]:
    return copy.deepcopy(MOCKED_CONFIG) | copy.deepcopy(patch)


def loads_unchanged(data: dict[str, Any]) -> SmtpConfig:
    """Upstream's assertion, strengthened: every key comes back with its value, and nothing is
    added (no inferred `auth.type`, no default port)."""
    loaded = SmtpConfig.model_validate(copy.deepcopy(data))
    assert loaded.to_dict(reveal_secrets=True) == data
    assert SmtpConfig.model_validate(loaded.to_dict(reveal_secrets=True)) == loaded
    return loaded


# -- "Test config guard" (9 cases) --------------------------------------------------------------


def test_basic_config() -> None:
    loaded = loads_unchanged(config())
    assert loaded.auth.user == "<username>" and loaded.auth.password == "<password>"
    assert loaded.auth.type == "login"  # inferred in Python, never written back


def test_config_with_oauth2_auth_private_key_needed() -> None:
    loaded = loads_unchanged(config(auth=OAUTH2_WITH_KEY))
    assert loaded.auth.uses_service_account


def test_config_with_oauth2_auth_token_needed() -> None:
    loaded = loads_unchanged(config(auth=OAUTH2_WITH_TOKEN))
    assert loaded.auth.type == "oauth2" and loaded.auth.access_token is not None


def test_config_with_tls_options_and_a_tls_object() -> None:
    loaded = loads_unchanged(config(**TLS_WITH_TLS_OBJECT))
    assert loaded.require_tls and loaded.tls.reject_unauthorized and loaded.servername


def test_config_with_tls_options_without_a_tls_object() -> None:
    loaded = loads_unchanged(config(**TLS_WITHOUT_TLS_OBJECT))
    assert loaded.tls_server_name == "<servername>"


def test_config_with_valid_connection_options() -> None:
    loaded = loads_unchanged(config(**CONNECTION_VALID))
    assert loaded.name == "<name>" and loaded.local_address == "<local-address>"


def test_config_with_invalid_connection_options() -> None:
    """Upstream calls `{name}` alone "invalid" connection options, yet its schema accepts them
    (every connection option is optional); so do we."""
    assert loads_unchanged(config(**CONNECTION_INVALID)).name == "<name>"


def test_config_with_login_auth_missing_user_and_pass() -> None:
    """An IP-authorised relay: `{type: "login"}` with neither user nor pass loads as written
    and means no AUTH (nothing to send; see docs/configuration.md, `auth`)."""
    loaded = loads_unchanged(config(auth={"type": "login"}))
    assert not loaded.auth.enabled


def test_config_with_debugging_and_security_options() -> None:
    loaded = loads_unchanged(config(**DEBUGGING, **SECURITY))
    assert loaded.logger and loaded.disable_file_access and not loaded.disable_url_access


def test_the_connector_builds_from_upstreams_config() -> None:
    """Upstream's "init without throwing errors": the connector is created from the mock."""
    assert SmtpConnector(config()).template_warnings == []


# -- what Logto's schema allows beyond its tests ------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "LOGIN", "user": "u", "pass": "p"},
        OAUTH2_WITH_TOKEN | {"type": "OAuth2"},
        OAUTH2_WITH_KEY | {"privateKey": {"key": "<private-key>", "passphrase": "<passphrase>"}},
    ],
    ids=["type-spelling", "oauth2-spelling", "encrypted-key-object"],
)
def test_logtos_other_auth_spellings_round_trip(auth: dict[str, Any]) -> None:
    loaded = loads_unchanged(config(auth=auth))
    assert loaded.auth.type in ("login", "oauth2")


def test_a_config_without_port_is_written_back_without_one() -> None:
    data = config()
    del data["port"]
    assert loads_unchanged(data).port == 587


@pytest.mark.parametrize(
    ("flags", "wins"),
    [
        ({"ignoreTLS": True, "requireTLS": True}, "ignoreTLS` wins"),
        ({"ignoreTLS": True, "secure": True}, "no effect with implicit TLS"),
        ({"ignoreTLS": True, "requireTLS": True, "secure": True}, "no effect with implicit TLS"),
    ],
    ids=["ignore+require", "ignore+secure", "all-three"],
)
def test_tls_flags_that_contradict_each_other_load_and_warn(
    flags: dict[str, Any], wins: str
) -> None:
    """Logto's schema accepts any mix of the three flags. What each mix does on the wire
    (nodemailer's reading) is in tests/delivery/test_nodemailer_upstream.py."""
    data = config(**flags)
    with pytest.warns(ConfigWarning, match=wins):
        loaded = loads_unchanged(data)
    # Neither mix lets AUTH travel in clear: TLS from the first byte, or no leave to skip it.
    assert loaded.implicit_tls or not loaded.clear_auth_allowed


def test_each_server_of_a_failover_list_is_warned_about_by_name() -> None:
    data = config(servers=[{"host": "b.example.com", "ignoreTLS": True, "requireTLS": True}])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        SmtpConfig.model_validate(data)
    texts = [str(w.message) for w in caught if w.category is ConfigWarning]
    assert len(texts) == 1 and "`servers[0].ignoreTLS`" in texts[0]


def test_opportunistic_tls_is_a_known_key() -> None:
    """nodemailer's `opportunisticTLS`, seen in Logto configs, is accepted and kept."""
    assert loads_unchanged(config(opportunisticTLS=True)).opportunistic_tls


# -- emailTemplateDetailsGuard: subject, content, contentType?, replyTo?, sendFrom? -------------

DETAILS = {
    "subject": "Custom subject {{code}}",
    "content": "Your verification code is {{code}}",
    "contentType": "text/plain",
    "replyTo": "{{user.primaryEmail}}",
    "sendFrom": "{{application.name}} <notice@test.smtp>",
}


def test_template_details_are_accepted_on_a_config_template() -> None:
    template = {"usageType": "SignIn", **DETAILS}
    loaded = loads_unchanged(config(templates=[template]))
    assert loaded.templates[0].reply_to == "{{user.primaryEmail}}"
    assert loaded.templates[0].send_from == DETAILS["sendFrom"]


def test_template_details_without_content_type_are_accepted() -> None:
    """`contentType` is optional in the details guard; on a config template (Logto's
    `templateGuard` requires it) ours defaults to text/plain, a provider's to HTML as Logto
    sends it (tests/compose/test_template_provider.py)."""
    details = {k: v for k, v in DETAILS.items() if k != "contentType"}
    template = EmailTemplate.model_validate({"usageType": "SignIn", **details})
    assert template.content_type is ContentType.TEXT


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        ({"subject": None}, "subject"),
        ({"contentType": "text/markdown"}, "contentType"),
        ({"sendFrom": "not an address"}, "sendFrom"),
        ({"replyTo": "a@example.com, b@example.com"}, "replyTo"),
    ],
    ids=["no-subject", "bad-content-type", "bad-send-from", "two-reply-to"],
)
def test_template_details_the_guard_refuses_are_invalid_config(
    patch: dict[str, Any], named: str
) -> None:
    template = {"usageType": "SignIn", **DETAILS} | patch
    template = {k: v for k, v in template.items() if v is not None}
    with pytest.raises(ConnectorError) as info:
        SmtpConfig.model_validate(config(templates=[template]))
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert named in info.value.message


@pytest.mark.parametrize(
    ("auth", "missing"),
    [
        ({"user": "<username>"}, "`auth.pass` is missing"),
        ({"user": "<username>", "pass": ""}, "`auth.pass` is missing"),
        ({"pass": "<password>"}, "`auth.user` is missing"),
        ({"type": "login", "method": "PLAIN"}, "`auth.method` PLAIN"),
    ],
    ids=["user-only", "empty-pass", "pass-only", "method-only"],
)
def test_half_a_login_loads_but_the_connector_refuses_it(
    auth: dict[str, Any], missing: str
) -> None:
    """Logto's schema accepts a login with only one of user and pass, so the config loads as
    written; nodemailer then fails locally ("Missing credentials") and so does building the
    connector, before any connection (tests/delivery/test_nodemailer_upstream.py checks that
    the server hears nothing)."""
    data = config(auth=auth)
    if "method" not in auth:
        loads_unchanged(data)
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(data)
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "Missing credentials" in info.value.message and missing in info.value.message


def test_a_failover_servers_missing_credentials_name_the_server() -> None:
    data = config(servers=[{"host": "backup.example.net", "auth": {"user": "u"}}])
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(data)
    assert "server backup.example.net:587" in info.value.message


def test_oauth2_without_a_way_to_a_token_is_refused_when_built() -> None:
    data = config(auth={"type": "oauth2", "user": "<user@logto.io>"})
    loads_unchanged(data)
    with pytest.raises(ConnectorError) as info:
        SmtpConnector(data)
    assert "Missing credentials for XOAUTH2" in info.value.message
    SmtpConnector(data, token_provider=_token)  # a caller's token provider is a way


async def _token() -> str:
    return "token-from-the-caller"
