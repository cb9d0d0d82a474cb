"""Load-time template checks: syntax errors fail when the connector is built, likely mistakes
(misspelt usage types, no code placeholder, shadowed templates) warn, and payload links are
restricted to http(s) before they reach an href."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from smtp_servers import MakeServer, config_for

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector, TemplateWarning
from smtp_connector.cli import main
from smtp_connector.usage import suggest_usage_type

BASE: dict[str, Any] = {"host": "smtp.example.com", "fromEmail": "noreply@example.com"}


def template(usage: str = "SignIn", content: str = "Code: {{ code }}", **extra: Any) -> dict:
    return {"usageType": usage, "subject": "Subject", "content": content, **extra}


def build(*templates: dict[str, Any]) -> SmtpConnector:
    return SmtpConnector({**BASE, "templates": list(templates)})


def warnings_for(*templates: dict[str, Any]) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        connector = build(*templates)
    texts = [str(w.message) for w in caught if issubclass(w.category, TemplateWarning)]
    assert texts == connector.template_warnings
    return texts


# -- compiled at load ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "source", "line"),
    [
        ("content", "Hello\n{{ code }}\n{% if code %}\nno end", 3),
        ("htmlContent", "<p>\n{{ code }\n</p>", 2),
        ("subject", "Your code {{ code", 1),
        ("textContent", "a\nb\n{% endfor %}", 3),
    ],
)
def test_syntax_error_fails_when_the_connector_is_built(part: str, source: str, line: int) -> None:
    broken = template("Register", locale="de") | {part: source}
    if part != "content":
        broken.setdefault("textContent", "{{ code }}")
    with pytest.raises(ConnectorError) as info:
        build(template("SignIn"), broken)
    error = info.value
    assert error.code is ErrorCode.TEMPLATE_ERROR
    assert error.message.startswith("templates[1]: ")
    assert "'Register/de'" in error.message
    part_name = {"content": "text", "htmlContent": "html", "textContent": "text"}.get(part, part)
    assert f"({part_name} part, line {line})" in error.message


def test_unknown_filter_fails_at_load() -> None:
    with pytest.raises(ConnectorError) as info:
        build(template(content="{{ code | no_such_filter }}"))
    assert info.value.code is ErrorCode.TEMPLATE_ERROR
    assert "templates[0]" in info.value.message and "no_such_filter" in info.value.message


def test_verify_reports_a_broken_template_before_connecting(
    make_server: MakeServer, tmp_path: Path
) -> None:
    server = make_server()
    config = config_for(server, templates=[template(content="{{ code }")])
    path = tmp_path / "smtp.json"
    path.write_text(json.dumps(config))
    result = CliRunner().invoke(main, ["verify", "--config", str(path)])
    assert result.exit_code == 3, result.output
    assert "templates[0]" in result.output and "line 1" in result.output
    assert server.connections == 0  # failed at load, before any network


def test_verify_lists_template_warnings(make_server: MakeServer, tmp_path: Path) -> None:
    server = make_server()
    config = config_for(server, templates=[template("Regsiter")])
    path = tmp_path / "smtp.json"
    path.write_text(json.dumps(config))
    result = CliRunner().invoke(main, ["verify", "--config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{") :])
    assert any("did you mean 'Register'?" in w for w in report["warnings"])
    assert server.connections == 1  # the check itself still ran for real


# -- usage types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("Regsiter", "Register"),
        ("Singin", "SignIn"),
        ("signin", "SignIn"),
        ("SIGN_IN", "SignIn"),
        ("forgot-password", "ForgotPassword"),
        ("Genric", "Generic"),
        ("OrganizationInvite", "OrganizationInvitation"),
        ("BindMFA", "BindMfa"),
    ],
)
def test_misspelt_usage_type_warns_with_did_you_mean(written: str, meant: str) -> None:
    assert suggest_usage_type(written) == meant
    (text,) = warnings_for(template(written))
    assert f"did you mean {meant!r}?" in text
    assert f"usageType {written!r}" in text and "templates[0]" in text


@pytest.mark.parametrize("custom", ["PasswordlessMagic", "BindEmail", "Invitation", "Welcome"])
def test_custom_usage_types_load_without_warning(custom: str) -> None:
    assert suggest_usage_type(custom) is None
    assert warnings_for(template(custom)) == []
    rendered = build(template(custom)).render(custom, {"code": "1"})
    assert rendered.text == "Code: 1"


def test_misspelt_usage_type_at_send_time_warns_once() -> None:
    connector = build()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = connector.render("Regsiter", {"code": "1"}, locale="en")
        connector.render("Regsiter", {"code": "2"}, locale="en")  # the choice is memoised
        connector.render("PasswordlessMagic", {"code": "3"}, locale="en")  # custom: silent
        connector.render("Register", {"code": "4"}, locale="en")
    (warning,) = [str(w.message) for w in caught if issubclass(w.category, TemplateWarning)]
    assert "usage type 'Regsiter'" in warning and "did you mean 'Register'?" in warning
    assert "rendered with the Generic template" in warning
    assert first.usage_type == "Regsiter"


def test_configured_custom_type_close_to_a_known_one_warns_only_at_load() -> None:
    with pytest.warns(TemplateWarning):
        connector = build(template("Regsiter"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert connector.render("Regsiter", {"code": "7"}).text == "Code: 7"


def test_warning_points_at_the_callers_line() -> None:
    with pytest.warns(TemplateWarning) as caught:
        build(template("Regsiter"))
    assert caught[0].filename == __file__


# -- code placeholder ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        "{{code}}",
        "{{ code }}",
        "<<code>>",
        "<< code >>",
        "&lt;&lt;code&gt;&gt;",
        "{{ code | upper }}",
        "{% if code %}{{ code }}{% endif %}",
    ],
)
def test_code_placeholder_forms_satisfy_the_check(content: str) -> None:
    assert warnings_for(template("SignIn", content)) == []


def test_code_only_in_the_subject_is_enough() -> None:
    assert warnings_for(template("SignIn", "Welcome", subject="{{ code }} is your code")) == []


@pytest.mark.parametrize("usage", ["Register", "SignIn", "ForgotPassword", "Generic", "BindMfa"])
def test_code_bearing_template_without_code_warns(usage: str) -> None:
    (text,) = warnings_for(template(usage, "Hello {{ user.name }}, open {{ link }}"))
    assert f"templates[0] ({usage})" in text and "{{code}}" in text


def test_html_only_template_without_code_warns() -> None:
    content = {"htmlContent": "<p>Hi {{ user.name }}</p>", "content": None}
    (text,) = warnings_for(template("MfaVerification", locale="fr") | content)
    assert "MfaVerification/fr" in text


@pytest.mark.parametrize("usage", ["OrganizationInvitation", "PasswordlessMagic"])
def test_link_based_and_custom_types_need_no_code(usage: str) -> None:
    assert warnings_for(template(usage, "Join: {{ link }}")) == []


def test_shadowed_template_warns() -> None:
    texts = warnings_for(
        template("SignIn", locale="en"), template("SignIn"), template("SignIn", locale="EN")
    )
    assert len(texts) == 2  # no locale = the default locale "en"; locales compare normalised
    assert texts[0].startswith("templates[1] (SignIn) is never used: templates[0]")


# -- links -----------------------------------------------------------------------------------

HTML = {
    "usageType": "Generic",
    "subject": "s {{ code }}",
    "htmlContent": '<a href="{{ link }}">go</a>',
}


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(document.cookie)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "vbscript:msgbox(1)",
        "mailto:someone@example.org",
        "/relative/path?token=abc",
        "https:/missing-slash",
        "https://",
    ],
)
def test_unsafe_links_are_a_template_error(link: str) -> None:
    with pytest.raises(ConnectorError) as info:
        build(HTML).render("Generic", {"code": "1", "link": link})
    assert info.value.code is ErrorCode.TEMPLATE_ERROR
    assert "http:// or https://" in info.value.message
    assert "alert" not in info.value.message and "abc" not in info.value.message  # no echo


@pytest.mark.parametrize(
    "link",
    [
        "https://example.org/verify?token=abc&x=1",
        "HTTP://localhost:8080/magic",
        " https://a.example/ ",
    ],
)
def test_http_links_reach_the_href(link: str) -> None:
    rendered = build(HTML).render("Generic", {"code": "1", "link": link})
    assert rendered.html == f'<a href="{link.strip().replace("&", "&amp;")}">go</a>'


async def test_unsafe_link_never_reaches_the_server(make_server: MakeServer) -> None:
    server = make_server()
    async with SmtpConnector(config_for(server)) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send(
                "ana@example.org", "OrganizationInvitation", {"link": "javascript:alert(1)"}
            )
        assert info.value.code is ErrorCode.TEMPLATE_ERROR
        result = await connector.send(
            "ana@example.org", "OrganizationInvitation", {"link": "https://example.org/join?t=1"}
        )
    (received,) = server.handler.messages
    assert result.accepted == ["ana@example.org"]
    assert b"https://example.org/join?t=1" in received.content
    assert b"javascript:" not in received.content


@pytest.mark.filterwarnings("error::smtp_connector.TemplateWarning")
def test_warnings_become_errors_with_the_documented_pytest_filter() -> None:
    with pytest.raises(TemplateWarning, match=r"did you mean 'Register'\?"):
        build(template("Regsiter"))
    assert build(template("Register")).template_warnings == []


def test_warnings_become_errors_with_simplefilter() -> None:
    import smtp_connector

    with warnings.catch_warnings():
        warnings.simplefilter("error", smtp_connector.TemplateWarning)
        with pytest.raises(TemplateWarning, match="no code placeholder"):
            build(template("SignIn", "Hello"))
