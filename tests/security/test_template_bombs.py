"""Finding 3 (MEDIUM): templates were sandboxed but unbounded.

Each bomb below allocated 0.5–1.6 GB, ran for minutes (blocking the event loop) or crashed
with a bare RecursionError. They run here in a child process whose address space is capped
(`RLIMIT_AS`) and which must finish within a time limit: if a limit in the sandbox were
missing, the child would hit MemoryError, die, or time out, and the test would fail. Every bomb
must end in `template_error` naming the template — at load when the template alone decides it,
at send when the payload does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector

pytest.importorskip("resource", reason="RLIMIT_AS needs a POSIX system")

MEMORY_CAP = 384 * 1024 * 1024  # the bombs want 0.5–1.6 GB; the library needs ~50 MB
CHILD_TIME_LIMIT_S = 120  # a hang guard: all bombs together take about a second
HUGE_CODE = "7" * 20_000  # within maxPayloadBytes; × 100,000 is 2 GB

# name -> (template content, payload code, where it must fail: "load" or "send")
BOMBS: dict[str, tuple[str, str, str]] = {
    "string repetition": ("{{ 'a' * 10**9 }}", "1", "load"),
    "center padding": ("{{ 'a'|center(10**9) }}", "1", "load"),
    "format filter width": ("{{ '%*d'|format(10**9, 1) }}", "1", "load"),
    "percent operator width": ("{{ '%*d' % (10**9, 1) }}", "1", "load"),
    "str.format width": ("{{ '{:>1000000000}'.format(1) }}", "1", "load"),
    "ljust method": ("{{ 'a'.ljust(10**9) }}", "1", "load"),
    "indent width": ("{{ ('x\n' * 100000)|indent(100000) }}", "1", "load"),
    "replace growth": ("{{ ('a' * 1000)|replace('a', 'b' * 100000) }}", "1", "load"),
    "list repetition joined": ("{{ (['x' * 1000000] * 100000)|join }}", "1", "load"),
    "concatenation doubling": (
        "{% set a = 'x' * 1000000 %}{% set b = a ~ a %}{% set c = b ~ b %}{{ c|length }}",
        "1",
        "load",
    ),
    "huge integer": ("{{ 10 ** (10 ** 8) }}", "1", "load"),
    "nested range loops": (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "1",
        "load",
    ),
    "lipsum": ("{{ lipsum(10**6) }}", "1", "load"),
    "loop printing a large value": (
        "{% set big = 'x' * 1000000 %}{% for i in range(100000) %}{{ big }}{% endfor %}",
        "1",
        "load",
    ),
    "nested ifs (recursion)": ("{% if 1 %}" * 400 + "x" + "{% endif %}" * 400, "1", "load"),
    "recursive macro": ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "1", "load"),
    "payload repetition": ("{{ (code * 100000)|length }}", HUGE_CODE, "send"),
}

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
    from smtp_connector import ConnectorError, SmtpConnector

    results = {{}}
    saving = SmtpConnector({{"transport": "memory", "fromEmail": "no-reply@example.com"}})
    checked = {{}}
    for name, (content, code, _) in json.loads(sys.stdin.read()).items():
        try:  # an admin saving the bomb as a stored template (SmtpConnector.check_template)
            saving.check_template({{"subject": "Code", "content": content}}, "SignIn")
            checked[name] = {{"code": "none", "message": ""}}
        except ConnectorError as error:
            checked[name] = {{"code": error.code.value, "message": error.message}}
        except BaseException as error:
            checked[name] = {{"code": type(error).__name__, "message": ""}}
        config = {{
            "transport": "memory", "fromEmail": "no-reply@example.com",
            "templates": [{{"usageType": "SignIn", "subject": "Code", "content": content}}],
        }}
        stage = "load"
        try:
            connector = SmtpConnector(config)
            stage = "send"
            connector.render("SignIn", {{"code": code}})
            results[name] = {{"stage": "none"}}
        except ConnectorError as error:
            results[name] = {{"stage": stage, "code": error.code.value, "message": error.message}}
        except BaseException as error:
            results[name] = {{"stage": stage, "code": type(error).__name__, "message": ""}}
        results[name]["check"] = checked[name]
    print(json.dumps(results))
    """
)


@pytest.fixture(scope="module")
def outcomes() -> dict[str, dict[str, Any]]:
    """Run every bomb in one memory-capped, time-limited child interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(cap=MEMORY_CAP)],
        input=json.dumps(BOMBS),
        capture_output=True,
        text=True,
        timeout=CHILD_TIME_LIMIT_S,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", list(BOMBS))
def test_bomb_ends_in_template_error(outcomes: dict[str, dict[str, Any]], name: str) -> None:
    outcome = outcomes[name]
    assert outcome["code"] == "template_error", outcome
    assert outcome["stage"] == BOMBS[name][2], outcome
    assert "'SignIn'" in outcome["message"]  # the template is named
    assert "sandbox" in outcome["message"] or "nested too deeply" in outcome["message"]


@pytest.mark.parametrize("name", [name for name, bomb in BOMBS.items() if bomb[2] == "load"])
def test_bomb_is_refused_when_an_admin_saves_it(
    outcomes: dict[str, dict[str, Any]], name: str
) -> None:
    """`check_template` (what the service runs when a template is saved) refuses each bomb the
    template alone decides, as building a connector with it does."""
    checked = outcomes[name]["check"]
    assert checked["code"] == "template_error", checked
    assert "sandbox" in checked["message"] or "nested too deeply" in checked["message"]


def test_the_memory_cap_is_real() -> None:
    """The control: the same child cannot allocate what the bombs ask for, so a bomb that got
    past the sandbox would show up as a MemoryError above, not pass."""
    script = (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP}))\n"
        "try:\n    'a' * 10**9\nexcept MemoryError:\n    print('MemoryError')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.strip() == "MemoryError"


def _connector(content: str, **config: Any) -> SmtpConnector:
    return SmtpConnector(
        {
            "transport": "memory",
            "fromEmail": "no-reply@example.com",
            "templates": [{"usageType": "SignIn", "subject": "Code", "content": content}],
            **config,
        }
    )


def test_render_time_cap_ends_in_template_error() -> None:
    """Within every size and loop limit, but slow: stopped by `renderTimeout`."""
    slow = (
        "{% for i in range(1000) %}{% for j in range(900) %}{{ j|string }}{% endfor %}{% endfor %}"
    )
    with pytest.raises(ConnectorError) as info:
        _connector(slow, renderTimeout=20)
    assert info.value.code is ErrorCode.TEMPLATE_ERROR
    assert "renderTimeout" in info.value.message


def test_output_cap_is_configurable() -> None:
    template = "{{ code * 3000 }}"
    small = _connector(template, maxOutputBytes=4096)
    with pytest.raises(ConnectorError) as info:
        small.render("SignIn", {"code": "123456"})
    assert info.value.code is ErrorCode.TEMPLATE_ERROR
    assert "maxOutputBytes" in info.value.message or "characters" in info.value.message
    assert len(_connector(template).render("SignIn", {"code": "123456"}).text or "") == 18_000


def test_ordinary_templates_are_untouched() -> None:
    template = (
        "Hi {{ user.name|default('there')|title }}, code {{ code }} "
        "{% for digit in code %}[{{ digit }}]{% endfor %} {{ '%05d'|format(42) }} "
        "{{ '{:>4}'.format('x') }} {{ 'ab' ~ code }} {{ ['a', 'b']|join('-') }} "
        "{{ ('-' * 10)|center(14) }} {{ lipsum(1, false, 3, 5)|wordcount > 0 }}"
    )
    rendered = _connector(template).render("SignIn", {"code": "123", "user": {"name": "ana"}})
    assert rendered.text == ("Hi Ana, code 123 [1][2][3] 00042    x ab123 a-b   ----------   True")


def test_render_time_cap_applies_when_an_admin_saves_a_template() -> None:
    slow = (
        "{% for i in range(1000) %}{% for j in range(900) %}{{ j|string }}{% endfor %}{% endfor %}"
    )
    saving = SmtpConnector(
        {"transport": "memory", "fromEmail": "no-reply@example.com", "renderTimeout": 20}
    )
    with pytest.raises(ConnectorError) as info:
        saving.check_template({"subject": "Code {{code}}", "content": slow}, "SignIn")
    assert info.value.code is ErrorCode.TEMPLATE_ERROR
    assert "renderTimeout" in info.value.message
