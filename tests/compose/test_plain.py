"""The Jinja-free renderer (`compose/plain.py`) against the sandboxed Jinja path: on generated
templates of its subset and generated payloads, the same subject, text and HTML, or the same
error; templates outside the subset are left to Jinja."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from smtp_connector import ConnectorError
from smtp_connector.compose.plain import compile_part
from smtp_connector.compose.rendering import Renderer
from smtp_connector.compose.shipped import default_template, shipped_locales
from smtp_connector.config import EmailTemplate

NAMES = ["code", "link", "user", "app", "x"]
ATTRS = ["name", "id", "items", "upper"]
TEXT = st.text(alphabet=" ab\n\r\t<>&'\"{}%#-é\u00a0", max_size=6)


_LEAF = st.one_of(
    st.sampled_from(NAMES),
    st.builds(lambda n, a: f"{n}.{a}", st.sampled_from(NAMES), st.sampled_from(ATTRS)),
    st.sampled_from(["'lit'", '"<b>"', "''", "10", "0"]),
    st.builds(
        lambda n, t: f"{n} is {t}",
        st.sampled_from(NAMES),
        st.sampled_from(["string", "not defined"]),
    ),
)
EXPR = st.recursive(
    _LEAF,
    lambda sub: st.one_of(
        st.builds(lambda a, b: f"{a} or {b}", sub, sub),
        st.builds(lambda a, b: f"{a} and {b}", sub, sub),
        st.builds(lambda a: f"not {a}", sub),
        st.builds(lambda a: f"({a})", sub),
        st.builds(lambda a, b, c: f"({a} if {b} else {c})", sub, sub, sub),
    ),
    max_leaves=4,
)
DASH = st.sampled_from(["", "-"])
_SIMPLE = st.one_of(
    TEXT,
    st.builds(lambda a, e, b: f"{{{{{a} {e} {b}}}}}", DASH, EXPR, DASH),
    st.builds(lambda n: f"<<{n}>>", st.sampled_from(NAMES)),
    st.builds(lambda n: f"{{{{ {n} }}}}", st.sampled_from(NAMES)),
    st.builds(lambda n, e, d: f"{{%{d} set {n} = {e} %}}", st.sampled_from(NAMES), EXPR, DASH),
    st.builds(lambda n, a: f"{{% set {n} %}}{a}{{% endset %}}", st.sampled_from(NAMES), TEXT),
)
BODY = st.recursive(
    _SIMPLE,
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=4).map("".join),
        st.builds(
            lambda t, a, b, d: f"{{% if {t} %}}{a}{{%{d} else -%}}{b}{{% endif %}}",
            EXPR, inner, inner, DASH,
        ),
        st.builds(
            lambda t, u, a, b: f"{{% if {t} %}}{a}{{% elif {u} %}}{b}{{% endif %}}",
            EXPR, EXPR, inner, inner,
        ),
    ),
    max_leaves=8,
)  # fmt: skip


VALUE = st.recursive(
    st.one_of(
        st.text(alphabet="ab<>&'\" \n1", max_size=5),
        st.integers(-5, 10**6),
        st.none(),
        st.booleans(),
        st.floats(allow_nan=False, width=16),
        st.builds(Markup, st.text(alphabet="ab<>&", max_size=4)),
        st.lists(st.integers(), max_size=2),
    ),
    lambda inner: st.dictionaries(st.sampled_from(ATTRS), inner, max_size=3),
    max_leaves=5,
)
PAYLOAD = st.dictionaries(st.sampled_from(NAMES), VALUE, max_size=4)


def _outcome(renderer: Renderer, template: EmailTemplate, payload: dict[str, Any]) -> Any:
    try:
        bodies = renderer.render(template, payload)
    except ConnectorError as error:
        return ("error", error.code, _no_address(error.message))
    return tuple(map(_no_address, (bodies.subject, bodies.text, bodies.html)))


def _no_address(text: str | None) -> str | None:
    """A printed method (`a.upper`, Jinja's path) shows its address, different per object."""
    return None if text is None else re.sub(" at 0x[0-9a-f]+", "", text)


def _renderers() -> tuple[Renderer, Renderer]:
    plain, jinja = Renderer(compose_cache=False), Renderer(compose_cache=False)
    jinja.plain_templates = False
    return plain, jinja


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=BODY, text=BODY, html=BODY, payload=PAYLOAD)
@example("{{ x }}", "{% set x %}<&{% endset %}{{ x }}", "{% set x %}<&{% endset %}{{ x }}", {})
@example("", "", "{", {})
@example("-", " \n{%- if x -%} \n{{- x }}{% endif -%}\u00a0 \r\n", "", {"x": Markup("<")})
def test_plain_renders_as_the_sandbox_does(
    subject: str, text: str, html: str, payload: dict[str, Any]
) -> None:
    template = EmailTemplate(
        usage_type="SignIn", subject=subject, text_content="t" + text, html_content=html or None
    )
    plain, jinja = _renderers()
    assert _outcome(plain, template, payload) == _outcome(jinja, template, payload)


@settings(max_examples=60, deadline=None)
@given(
    locale=st.sampled_from(shipped_locales()),
    usage=st.sampled_from(["SignIn", "Register", "OrganizationInvitation", "Generic"]),
    payload=st.fixed_dictionaries(
        {},
        optional={
            "code": st.text(max_size=4),
            "link": st.just("https://example.com/a?b=<c>&d"),
            "application": st.one_of(
                st.text(max_size=3), st.fixed_dictionaries({"name": st.text(max_size=3)})
            ),
            "organization": st.fixed_dictionaries({"name": st.text(max_size=3)}),
            "inviter": st.fixed_dictionaries({"name": st.text(alphabet="<&a", max_size=3)}),
            "expiresInMinutes": st.one_of(st.integers(0, 99), st.just("<5>")),
            "locale": st.sampled_from(["de", "<x>"]),
        },
    ),
)
def test_the_shipped_templates_render_without_jinja_alike(
    locale: str, usage: str, payload: dict[str, Any]
) -> None:
    template = default_template(usage, locale)
    assert template is not None
    plain, jinja = _renderers()
    assert plain.plain(template) is not None  # all of them are within the subset
    assert _outcome(plain, template, payload) == _outcome(jinja, template, payload)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=BODY, text=BODY)
def test_plain_finds_the_names_a_template_reads_as_jinja_does(subject: str, text: str) -> None:
    template = EmailTemplate(usage_type="SignIn", subject=subject, text_content="t" + text)
    plain, jinja = _renderers()
    if plain.plain(template) is not None:  # within the subset: Jinja parses it too
        assert plain.variables(template) == jinja.variables(template)


@pytest.mark.parametrize(
    "source",
    [
        "{{ code|upper }}", "{{ code() }}", "{{ code[0] }}", "{{ a == b }}", "{{ a + b }}",
        "{# c #}", "{%+ if a %}{% endif %}", "{{ 'a\\nb' }}", "{{ range }}", "{{ _x }}",
        "{{ a._b }}", "{% for a in b %}{% endfor %}", "{% if a %}", "{{ a is divisibleby 3 }}",
        "{{ a if b }}", "{{ 1.5 }}", "{{ 'a' 'b' }}", "{% set a %}{% set b = 1 %}{% endset %}",
        "{{ a in b }}", "{{ code", "{% raw %}x{% endraw %}", "{{ a, b }}",
    ],
)  # fmt: skip
def test_anything_else_is_left_to_jinja(source: str) -> None:
    assert compile_part(source) is None
