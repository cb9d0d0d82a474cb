"""The shipped templates in every locale: complete (no key falls back to English), right-to-left
where the language is, invitations worded for every mix of organization and inviter, no hidden
text, one link (the button), and nothing broken mid-word."""

from __future__ import annotations

import json
import re
import tomllib
from html.parser import HTMLParser
from typing import Any

import pytest

from smtp_connector import SmtpConnector, UsageType
from smtp_connector.compose import shipped
from smtp_connector.compose.shipped import COMPILED, INDEX, shipped_locales
from smtp_connector.compose.shipped_source import compiled_strings, render_compiled
from smtp_connector.resources import list_files, read_text

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


def test_the_compiled_strings_are_the_toml_files() -> None:
    """A send reads templates/compiled/, people edit the TOML files: the JSON must be exactly
    what `python -m smtp_connector.compose.shipped_source` writes from them now, one file per
    locale and the index, and nothing else."""
    source = compiled_strings()
    files = render_compiled()
    assert sorted(list_files(COMPILED, ".json")) == sorted(files), "run the command above"
    for name, text in files.items():
        assert read_text(COMPILED, name) == text, f"{name}: run the command above"
    index = json.loads(files[INDEX])
    assert index == {"layout": source["layout"], "locales": sorted(source["locales"])}
    for locale, tables in source["locales"].items():
        assert json.loads(files[f"{locale}.json"]) == tables
    assert tuple(sorted(source["locales"])) == LOCALES


def test_a_send_parses_only_the_locales_it_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    """A first shipped template in one locale reads the index and that locale's strings (and
    the two layouts), not the other locales'."""
    read: list[str] = []

    def recorded(folder: str, name: str) -> str:
        read.append(name)
        return read_text(folder, name)

    caches = (shipped._index, shipped.shipped_locales, shipped._strings, shipped._layouts)
    cached_templates = shipped.default_template
    monkeypatch.setattr(shipped, "read_text", recorded)
    for cache in (*caches, cached_templates):
        cache.cache_clear()
    try:
        template = shipped.default_template("SignIn", "es")
        assert template is not None and template.locale == "es"
        assert sorted(read) == sorted([INDEX, "es.json", "layout.html", "layout.txt"])
        assert shipped.default_template("SignIn", "xx") is None  # no strings: nothing read
        assert len(read) == 4
    finally:
        for cache in (*caches, cached_templates):
            cache.cache_clear()


def test_rtl_locales_are_shipped() -> None:
    assert set(LOCALES) >= RTL
    assert len(LOCALES) >= 16


# layout.toml's [common] defaults a locale may override: `dir`, `sentence_joiner` (empty in
# Chinese and Japanese, so the one value allowed to be blank).
LAYOUT_DEFAULTS = set(tomllib.loads(read_text("templates", "layout.toml"))["common"])


@pytest.mark.parametrize("locale", LOCALES)
def test_every_locale_has_every_key_english_has(locale: str) -> None:
    """A key missing from a locale would make the layout fail, or tempt a fallback to English."""
    english, own = strings("en"), strings(locale)
    assert set(own) == set(english)
    for table, keys in english.items():
        assert set(own[table]) - LAYOUT_DEFAULTS == set(keys), f"{locale} [{table}]"
        words = {key: value for key, value in own[table].items() if key != "sentence_joiner"}
        assert all(value.strip() for value in words.values()), f"{locale} [{table}]"


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


class TextOf(HTMLParser):
    """The text nodes of an HTML fragment, stripped, blank ones left out."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.lines.append(data.strip())


@pytest.mark.parametrize("locale", LOCALES)
def test_direction_follows_the_language_and_the_code_stays_ltr(locale: str) -> None:
    html = render("OrganizationInvitation", locale, code=CODE, link=LINK).html
    found = elements(html)
    direction = "rtl" if locale in RTL else "ltr"
    by_tag = {tag: attrs for tag, attrs in reversed(found)}  # first of each tag
    assert by_tag["html"]["dir"] == by_tag["body"]["dir"] == by_tag["table"]["dir"] == direction
    (code,) = [a for t, a in found if "code" in a.get("class", "").split()]
    assert code["dir"] == "ltr" and "user-select:all" in code["style"]


@pytest.mark.parametrize("locale", LOCALES)
def test_the_link_is_the_button_alone(locale: str) -> None:
    """One `<a>` (the button, worded in the mail's language) and no URL shown as text: a
    second copy of the link costs at spam filters (rspamd URI_COUNT_ODD) and a long URL breaks
    mid-word on a phone. The text part carries the URL for whoever cannot click."""
    rendered = render("OrganizationInvitation", locale, code=CODE, link=LINK)
    links = [attrs for tag, attrs in elements(rendered.html) if tag == "a"]
    assert links == [{"class": "button", "href": LINK, "style": links[0]["style"]}]
    assert rendered.html.count("https://") == 1
    assert rendered.text.count(LINK) == 1


@pytest.mark.parametrize("locale", LOCALES)
def test_nothing_breaks_mid_word_but_an_overlong_code(locale: str) -> None:
    """`word-break: break-all` split URLs and words anywhere; the code may wrap only where it
    would not fit at all (`overflow-wrap: anywhere`), which a 6–8 character code never does."""
    html = render("OrganizationInvitation", locale, code=CODE, link=LINK).html
    assert not re.search(r"word-break|break-all", html)
    wrapping = [
        (tag, attrs.get("class", ""))
        for tag, attrs in elements(html)
        if re.search(r"overflow-wrap\s*:\s*anywhere", attrs.get("style", ""))
    ]
    assert wrapping == [("div", "code")]


@pytest.mark.parametrize("locale", LOCALES)
def test_no_hidden_text(locale: str) -> None:
    """No preheader or other text a reader cannot see (SpamAssassin HTML_FONT_LOW_CONTRAST,
    STY_INVIS_*): every visible string of the HTML part is in the text part too."""
    rendered = render("SignIn", locale, code=CODE)
    hiding = r"display\s*:\s*none|visibility|opacity|max-height\s*:\s*0"
    assert not re.search(hiding, rendered.html)
    assert 'class="preheader"' not in rendered.html
    visible = TextOf()
    visible.feed(rendered.html.split("</head>", 1)[1])
    for line in visible.lines:
        assert line in rendered.text, line


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


# Languages whose full stop "。" is full-width and takes no space after it.
NO_SPACE_AFTER_FULL_STOP = {"zh-CN", "zh-TW", "ja"}


@pytest.mark.parametrize("locale", LOCALES)
def test_invitation_joins_its_two_sentences_as_the_language_does(locale: str) -> None:
    """ "…。 请…" with an ASCII space is wrong in Chinese and Japanese; "…. Use…" needs it."""
    without = intro(locale, organization={"name": "Umbrella"})
    joined = intro(locale, organization={"name": "Umbrella"}, link=LINK)
    joiner = joined.removeprefix(without)[:1]
    if locale in NO_SPACE_AFTER_FULL_STOP:
        assert without.endswith("。") and not joiner.isspace(), joined
    else:
        assert joiner == " ", joined
    html = render("OrganizationInvitation", locale, organization={"name": "Umbrella"}, link=LINK)
    assert joined in html.html.replace("&#39;", "'")


@pytest.mark.parametrize("locale", LOCALES)
def test_invitation_states_an_expiry_only_when_given(locale: str) -> None:
    """Invitations last days: the ten-minute default of codes must not be claimed for them."""
    plain = render("OrganizationInvitation", locale, link=LINK)
    assert not re.search(r"(?<!\d)10(?!\d)", plain.text)
    timed = render("OrganizationInvitation", locale, link=LINK, expiresInMinutes=4320)
    assert "4320" in timed.text and "4320" in timed.html
    coded = render("SignIn", locale, code=CODE)
    assert re.search(r"(?<!\d)10(?!\d)", coded.text)  # codes keep their default


@pytest.mark.parametrize("locale", LOCALES)
def test_each_default_is_its_validated_email_template(locale: str) -> None:
    """A send reads the defaults as plain templates (no pydantic on a first send): each is the
    `EmailTemplate` its fields validate to, field by field and in what the stages read."""
    from smtp_connector import EmailTemplate

    for usage in shipped.shipped_usage_types():
        plain = shipped.default_template(usage, locale)
        assert plain is not None
        model = EmailTemplate.model_validate(
            {name: getattr(plain, name) for name in EmailTemplate.model_fields}
        )
        for name in [*EmailTemplate.model_fields, "text_source", "html_source", "label"]:
            assert getattr(plain, name) == getattr(model, name), (usage, name)
        assert plain.model() == model  # type: ignore[attr-defined]
