"""Compose once per template shape (`compose/shapes.py`): the fast path gives the message the
full path gives, and everything its proof does not cover really takes the full path."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError, SmtpConnector
from smtp_connector.compose import sandbox, shapes
from smtp_connector.compose.shapes import MAX_SHAPES
from smtp_connector.compose.shipped import shipped_locales, shipped_usage_types
from smtp_connector.config import SmtpConfig

BASE: dict[str, Any] = {
    "host": "smtp.example.com",
    "fromEmail": "noreply@example.com",
    "fromName": "Acme",
    "replyTo": "Support <help@example.com>",
    "customHeaders": {"X-Campaign": "verify"},
}
CUSTOM = [
    {
        "usageType": "Generic",
        "subject": "{{ application.name }}: {{ code }} for {{ user.name }}",
        "textContent": "Hi {{ user.name|default('there') }},\nyour code is {{ code }}.\n",
        "htmlContent": "<p>Hi {{ user.name }},</p><p>code <b>{{ code }}</b> {{ link }}</p>",
    },
    {
        "usageType": "Register",
        "contentType": "text/html",
        "subject": "Welcome",
        "content": "<p>{{ user.name ~ '!' }} <<code>></p>",
    },
]
FAST = SmtpConnector(BASE | {"templates": CUSTOM})
FULL = SmtpConnector(BASE | {"templates": CUSTOM, "composeCache": False})
PROPERTY = settings(max_examples=200, deadline=None, database=None)


@pytest.fixture(scope="module", autouse=True)
def compose_path() -> str:
    """This module compares the two paths itself (overrides the conftest's parametrisation)."""
    return "shape"


def comparable(data: bytes) -> bytes:
    """The message without what differs by design: Message-ID, Date and the MIME boundary."""
    data = re.sub(rb"Message-ID: <[^>]*>", b"Message-ID: <id>", data)
    data = re.sub(rb"Date: [^\r]*", b"Date: now", data)
    return re.sub(rb"=_sc_[0-9a-zA-Z_.]+", b"=_sc_boundary", data)


def outcome(connector: SmtpConnector, usage: str, payload: dict[str, Any], locale: str) -> Any:
    try:
        email = connector.render(usage, payload, locale, to="Zoë <user@example.org>")
    except ConnectorError as error:
        return ("error", error.code, error.message)
    return (email.subject, email.text, email.html, comparable(email.as_bytes()))


names = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            *['O\'Brien "Bob" <b>&amp;', "Zoë Ünal", "张伟", "محمد", "a" * 300, " lead", "{0} {x}"],
            # near and over 998 characters on one line (escaped in the HTML part: & is 5 chars)
            *["a" * 950, "&" * 199, "a\r\n" * 400, "tab\there", "nul\x00"],
        ]
    ),
)
codes = st.one_of(st.from_regex(r"[0-9A-Z]{1,12}", fullmatch=True), st.text(max_size=20))
links = st.from_regex(r"https://example\.com/v\?t=[A-Za-z0-9%&=._-]{0,300}", fullmatch=True)
payloads = st.fixed_dictionaries(
    {"code": codes},
    optional={
        "application": st.fixed_dictionaries({"name": names}),
        "user": st.fixed_dictionaries({"name": names}),
        "organization": st.fixed_dictionaries({"name": names}),
        "inviter": st.fixed_dictionaries({"name": names}),
        "link": links,
        "expiresInMinutes": st.one_of(st.sampled_from(["5", "30"]), st.integers(1, 90)),
    },
)
usages = st.sampled_from([*shipped_usage_types(), "Custom"])


@PROPERTY
@given(usage=usages, locale=st.sampled_from(shipped_locales()), payload=payloads)
@example(usage="SignIn", locale="en", payload={"code": "123456", "application": {"name": "<&>"}})
@example(usage="Register", locale="en", payload={"code": "\ue000&x0\ue001", "user": {"name": "x"}})
def test_fast_path_gives_the_full_paths_message(
    usage: str, locale: str, payload: dict[str, Any]
) -> None:
    """Random codes, names (Unicode, quotes, <>&, long), links, across every shipped usage type
    and locale and two custom templates: same subject, text, HTML and bytes on both paths."""
    assert outcome(FAST, usage, payload, locale) == outcome(FULL, usage, payload, locale)


def test_the_shipped_templates_take_the_fast_path() -> None:
    connector = SmtpConnector(BASE)
    for usage in shipped_usage_types():
        for locale in shipped_locales():
            connector.render(usage, {"code": "123456", "link": "https://x.example.com/a"}, locale)
            connector.render(usage, {"code": "654321", "link": "https://x.example.com/b"}, locale)
    info = connector.compose_cache_info()
    assert info is not None
    count = len(shipped_usage_types()) * len(shipped_locales())
    assert (info["misses"], info["hits"], info["fallbacks"]) == (count, count, {})


def fallbacks(template: dict[str, Any], payload: dict[str, Any]) -> set[str]:
    """Why messages took the full path after rendering `payload` twice with `template` (and
    once at load); the message is the full path's either way."""
    config = BASE | {"templates": [{"usageType": "Generic", "subject": "s"} | template]}
    fast, full = SmtpConnector(config), SmtpConnector(config | {"composeCache": False})
    for _ in range(2):
        assert outcome(fast, "Generic", payload, "en") == outcome(full, "Generic", payload, "en")
    info = fast.compose_cache_info()
    assert info is not None
    return set(info["fallbacks"])


@pytest.mark.parametrize(
    "content",
    [
        "{% for c in code %}{{ c }} {% endfor %}",  # a loop over a value
        "{% if code == '123456' %}yes{% else %}no{% endif %}",  # a conditional on a value
        "{% if '1' in code %}one{% endif %}",  # containment
        "{{ code|upper }}",  # a filter that transforms the value
        "{{ code|length }}",
        "{{ code[0] }}",  # a subscript
        "{{ code.upper() }}",  # a call
        "{% if code is lower %}lower{% endif %}",  # a test on the value's text
        "{{ code ~ code }}{% set x = code * 2 %}{{ x }}",  # arithmetic
    ],
)
def test_templates_that_use_values_fall_back(content: str) -> None:
    assert fallbacks({"content": content}, {"code": "123456"}) == {"template"}


@pytest.mark.parametrize(
    "template",
    [
        {"content": "{{ code|upper }}"},  # the placeholder comes out changed
        {"content": "{{ code|length }}"},  # its length shows (the two renders' lengths differ)
        {"textContent": "{{ code|e }}", "htmlContent": "x"},  # escaped in the text part
        {"contentType": "text/html", "content": "{{ code|safe }}"},  # raw in the HTML part
    ],
)
def test_the_proof_refuses_what_the_static_check_would_miss(
    template: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the static check switched off, the two placeholder renders still catch these."""
    monkeypatch.setattr(sandbox, "print_only", lambda ast: True)
    assert fallbacks(template, {"code": "<b>1a</b>"}) == {"template"}


@pytest.mark.parametrize(
    "payload",
    [
        {"code": "123456", "user": {"id": 5}},  # a value that is not a string
        {"code": "123456", "user": None},
        {"code": "123456", "items": ["a", "b"]},
        {"code": ""},  # an empty value: `{% if %}` would go the other way
        {"code": "12\ue000&34"},  # a value containing the placeholder mark
        {"code": "123456", 1: "x"},  # a key that is not a string
    ],
)
def test_payloads_the_proof_does_not_cover_fall_back(payload: dict[Any, Any]) -> None:
    assert fallbacks({"content": "{{ code }} {{ user.name }}"}, payload) == {"payload"}


def test_output_near_the_size_limit_falls_back() -> None:
    """A value that makes a part larger than a quarter of `maxOutputBytes` is rendered in full,
    so the size errors are the full path's."""
    template = {"content": "{{ code }}" * 8}
    config = BASE | {"maxOutputBytes": 4096, "templates": [{"usageType": "Generic"} | template]}
    config["templates"][0]["subject"] = "s"
    fast, full = SmtpConnector(config), SmtpConnector(config | {"composeCache": False})
    for code in ["1" * 100, "1" * 1000]:  # 800 characters: fast; 8,000: over, an error
        assert outcome(fast, "Generic", {"code": code}, "en") == outcome(
            full, "Generic", {"code": code}, "en"
        )
    info = fast.compose_cache_info()
    assert info is not None and info["fallbacks"] == {"size": 1} and info["hits"] == 1


def test_a_captured_block_near_the_limit_falls_back() -> None:
    """`{{ a }}` inside an unprinted block is measured by the sandbox on the full path (and is
    over `maxOutputBytes` here): the fast path, which prints nothing large, must not accept it."""
    content = "{% set a %}{{ code }}{{ code }}{% endset %}{% set b %}{{ a }}{% endset %}ok"
    config = BASE | {"maxOutputBytes": 1024, "maxPayloadBytes": 100_000}
    config["templates"] = [{"usageType": "Generic", "subject": "s", "content": content}]
    fast, full = SmtpConnector(config), SmtpConnector(config | {"composeCache": False})
    for code in ["1" * 100, "1" * 600]:  # 200 characters: fast; 1,200: over, an error
        assert outcome(fast, "Generic", {"code": code}, "en") == outcome(
            full, "Generic", {"code": code}, "en"
        )
    assert outcome(full, "Generic", {"code": "1" * 600}, "en")[0] == "error"
    info = fast.compose_cache_info()
    assert info is not None and info["fallbacks"] == {"size": 1} and info["hits"] == 1


def test_an_oversized_payload_is_refused_on_both_paths() -> None:
    config = BASE | {"maxPayloadBytes": 100}
    fast, full = SmtpConnector(config), SmtpConnector(config | {"composeCache": False})
    payload = {"code": "1" * 200}
    assert outcome(fast, "SignIn", payload, "en")[0] == "error"
    assert outcome(fast, "SignIn", payload, "en") == outcome(full, "SignIn", payload, "en")


def test_the_cache_is_bounded() -> None:
    connector = SmtpConnector(BASE)
    for index in range(MAX_SHAPES + 20):
        connector.render("SignIn", {"code": "1", f"key{index}": "v"}, "en")
    info = connector.compose_cache_info()
    assert info is not None and info["size"] == MAX_SHAPES and info["misses"] == MAX_SHAPES + 20


def test_compose_cache_config_key() -> None:
    assert SmtpConfig.model_validate(BASE).compose_cache is True
    config = SmtpConfig.model_validate(BASE | {"composeCache": False})
    assert config.compose_cache is False
    assert config.model_dump(by_alias=True)["composeCache"] is False
    assert SmtpConnector(config).compose_cache_info() is None
    with pytest.raises(ConnectorError):
        SmtpConfig.model_validate(BASE | {"composeCache": "sometimes"})


@settings(max_examples=300, deadline=None, database=None)
@given(
    segments=st.lists(st.text(alphabet="ab\n\r", max_size=40), min_size=1, max_size=6),
    data=st.data(),
)
def test_the_line_bound_is_an_upper_bound(segments: list[str], data: st.DataObject) -> None:
    """The MIME step skips measuring lines when the shape's bound says none can be too long:
    the bound must hold for every filling (values with line breaks included)."""
    count = len(segments) - 1
    slots = data.draw(st.lists(st.integers(0, 3), min_size=count, max_size=count))
    values = data.draw(st.lists(st.text(alphabet="xy\n", min_size=1, max_size=30), min_size=4))
    part = shapes._part(segments, slots)
    text = part.fill(values)
    longest = max(map(len, text.replace("\r", "\n").split("\n")))
    assert longest <= part.fixed + part.per_line * max(map(len, values))


parts = st.builds(
    shapes._Part,
    pieces=st.just(("",)),
    slots=st.lists(st.just((0, 0)), max_size=4).map(tuple),
    fixed=st.integers(0, 1200),
    per_line=st.integers(0, 4),
    fixed_size=st.integers(0, 1200),
)


@settings(max_examples=500, deadline=None, database=None)
@given(
    subject=parts,
    text=parts,
    html=parts,
    watched=st.tuples(st.integers(0, 5000), st.integers(0, 6)),
    max_chars=st.integers(0, 5000),
    longest=st.integers(0, 5000),
)
def test_the_shape_bound_is_the_five_checks(
    subject: Any, text: Any, html: Any, watched: tuple[int, int], max_chars: int, longest: int
) -> None:
    """`pieces` takes one comparison with the shape's bound instead of its five checks (the
    three parts' sizes, the watched outputs, text and HTML lines): for every longest value up
    to `max_chars`, the comparison must say what the five checks say."""
    max_part = max_chars // 4
    bound = shapes.shape_bound((subject, text, html), watched, max_part, max_chars)
    for length in {longest, bound, bound + 1}:  # either side of the bound, and anywhere
        values = ["x" * length] * 4
        checks = (
            all(part.fits(values, length, max_part) for part in (subject, text, html))
            and watched[0] + watched[1] * length <= max_chars
            and text.short_lines(length)
            and html.short_lines(length)
        )
        assert (length <= bound) == checks or not 0 <= length <= max_chars
