"""The shipped templates in every locale: complete (no key falls back to English), right-to-left
where the language is, invitations worded for every mix of organization and inviter, and word
breaking limited to the code and the link."""

from __future__ import annotations

import re
import tomllib
from html.parser import HTMLParser
from typing import Any

import pytest

from smtp_connector import SmtpConnector, UsageType
from smtp_connector.compose.shipped import shipped_locales
from smtp_connector.resources import read_text

CODE = "482913"
LINK = "https://example.org/invitation/accept?token=abc123"
LOCALES = shipped_locales()
RTL = {"ar", "he", "fa"}
RTL_SCRIPT = re.compile(r"[\u0590-\u05ff\u0600-\u06ff]")
CONNECTOR = SmtpConnector({"host": "smtp.example.com", "fromEmail": "noreply@example.com"})


def strings(locale: str) -> dict[str, dict[str, str]]:
    return tomllib.loads(read_text("templates/locales", f"{locale}.toml"))


def render(usage: UsageType | str, locale: str, **payload: Any) -> Any:
    return CONNECTOR.render(usage, {"application": {"name": "Acme"}, **payload}, locale=locale)


def test_rtl_locales_are_shipped() -> None:
    assert set(LOCALES) >= RTL
    assert len(LOCALES) >= 16


@pytest.mark.parametrize("locale", LOCALES)
def test_every_locale_has_every_key_english_has(locale: str) -> None:
    """A key missing from a locale would make the layout fail, or tempt a fallback to English."""
    english, own = strings("en"), strings(locale)
    assert set(own) == set(english)
    for table, keys in english.items():
        assert set(own[table]) - {"dir"} == set(keys), f"{locale} [{table}]"
        assert all(value.strip() for value in own[table].values()), f"{locale} [{table}]"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("usage", list(UsageType), ids=[u.value for u in UsageType])
def test_every_usage_type_renders_in_every_locale(usage: UsageType, locale: str) -> None:
    rendered = render(usage, locale, code=CODE, link=LINK)
    assert rendered.locale == locale  # chosen for itself, not via a fallback
    everything = rendered.subject + rendered.text + rendered.html
    assert "[[" not in everything and "{{" not in everything and "None" not in everything
    assert CODE in rendered.text and CODE in rendered.html
    assert LINK in rendered.text
    if locale != "en":  # translated, not English left in place
        english = render(usage, "en", code=CODE, link=LINK)
        assert rendered.subject != english.subject
        assert rendered.text != english.text
    if locale in RTL:
        assert RTL_SCRIPT.search(rendered.subject) and RTL_SCRIPT.search(rendered.text)


@pytest.mark.parametrize("locale", ["ar-EG", "he-IL", "fa-IR", "AR"])
def test_regional_rtl_locales_resolve_to_the_language(locale: str) -> None:
    assert render("SignIn", locale, code=CODE).locale == locale[:2].lower()


# -- HTML structure: direction, code and link -------------------------------------------------


class _Elements(HTMLParser):
    """Each start tag with its attributes, in document order."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Elements()
    parser.feed(html)
    return parser.elements


@pytest.mark.parametrize("locale", LOCALES)
def test_direction_follows_the_language_and_code_and_link_stay_ltr(locale: str) -> None:
    html = render("OrganizationInvitation", locale, code=CODE, link=LINK).html
    found = elements(html)
    direction = "rtl" if locale in RTL else "ltr"
    by_tag = {tag: attrs for tag, attrs in reversed(found)}  # first of each tag
    assert by_tag["html"]["dir"] == by_tag["body"]["dir"] == by_tag["table"]["dir"] == direction
    (code,) = [a for t, a in found if "code" in a.get("class", "").split()]
    assert code["dir"] == "ltr" and "user-select:all" in code["style"]
    (link,) = [a for t, a in found if t == "a" and "link" in a.get("class", "").split()]
    assert link["dir"] == "ltr" and link["href"] == LINK.replace("&", "&amp;")


@pytest.mark.parametrize("locale", LOCALES)
def test_only_the_code_and_the_link_may_break_mid_word(locale: str) -> None:
    """At 375 px a long URL must wrap, but the sentence beside it must not break mid-word."""
    html = render("OrganizationInvitation", locale, code=CODE, link=LINK).html
    breaking = [
        (tag, attrs.get("class", ""))
        for tag, attrs in elements(html)
        if re.search(r"word-break\s*:\s*break-all", attrs.get("style", ""))
    ]
    assert sorted(breaking) == [("a", "link"), ("div", "code")]


# -- invitation wording ---------------------------------------------------------------------

VARIANTS = {
    "org+inviter": {"organization": {"name": "Umbrella"}, "inviter": {"name": "Ann Lee"}},
    "org": {"organization": {"name": "Umbrella"}},
    "inviter": {"inviter": {"name": "Ann Lee"}},
    "neither": {},
}


def intro(locale: str, **payload: Any) -> str:
    text = render("OrganizationInvitation", locale, **payload).text
    return text.split("\n\n")[1]  # heading, intro, …


@pytest.mark.parametrize("locale", LOCALES)
def test_invitation_names_each_party_once(locale: str) -> None:
    sentences = {name: intro(locale, **payload) for name, payload in VARIANTS.items()}
    assert len(set(sentences.values())) == 4, sentences  # four different sentences
    for name, sentence in sentences.items():
        assert sentence.count("Acme") == 1, (name, sentence)  # never "join Acme on Acme"
        assert sentence.count("Umbrella") == ("org" in name)
        assert sentence.count("Ann Lee") == ("inviter" in name)


@pytest.mark.parametrize("locale", LOCALES)
def test_invitation_points_at_the_button_only_with_a_link(locale: str) -> None:
    with_link = intro(locale, link=LINK)
    without = intro(locale)
    assert with_link.startswith(without) and len(with_link) > len(without)


@pytest.mark.parametrize("locale", LOCALES)
def test_invitation_states_an_expiry_only_when_given(locale: str) -> None:
    """Invitations last days: the ten-minute default of codes must not be claimed for them."""
    plain = render("OrganizationInvitation", locale, link=LINK)
    assert not re.search(r"(?<!\d)10(?!\d)", plain.text)
    timed = render("OrganizationInvitation", locale, link=LINK, expiresInMinutes=4320)
    assert "4320" in timed.text and "4320" in timed.html
    coded = render("SignIn", locale, code=CODE)
    assert re.search(r"(?<!\d)10(?!\d)", coded.text)  # codes keep their default
