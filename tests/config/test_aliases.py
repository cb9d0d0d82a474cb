"""The config models' camelCase aliases come from `config.base.to_camel`, which does the
names our fields have without pydantic's regular expressions: it must give pydantic's alias for
every string, so the wire names (Logto's JSON) and the schemas stay what they were."""

from __future__ import annotations

import string

from hypothesis import example, given
from hypothesis import strategies as st
from pydantic.alias_generators import to_camel as pydantic_to_camel

from smtp_connector.config import (
    AuthConfig,
    DkimOptions,
    EmailTemplate,
    HealthOptions,
    PoolOptions,
    RateLimitOptions,
    RetryOptions,
    ServerConfig,
    SmimeOptions,
    SmtpConfig,
    ThrottleOptions,
    TlsOptions,
)
from smtp_connector.config.base import to_camel

MODELS = [
    AuthConfig, DkimOptions, EmailTemplate, HealthOptions, PoolOptions, RateLimitOptions,
    RetryOptions, ServerConfig, SmimeOptions, SmtpConfig, ThrottleOptions, TlsOptions,
]  # fmt: skip

# Field-name-like text: letters of both cases, digits, underscores (where the two functions'
# paths meet), and any other text below.
NAMES = st.text(alphabet=string.ascii_letters + string.digits + "_", max_size=24)


@given(st.one_of(NAMES, st.from_regex(r"[a-z]{1,6}(_[a-z]{1,6}){0,4}", fullmatch=True)))
def test_to_camel_is_pydantics_for_field_like_names(name: str) -> None:
    assert to_camel(name) == pydantic_to_camel(name)


@given(st.text(max_size=24))
@example("é_à")  # non-ASCII words: pydantic's expressions leave their underscores
@example("smtp_ß")
@example("ǅ_x")  # a titlecase letter: lower and upper at once
def test_to_camel_is_pydantics_for_any_text(name: str) -> None:
    assert to_camel(name) == pydantic_to_camel(name)


def test_every_generated_alias_is_pydantics() -> None:
    """Each model field without an alias of its own has pydantic's camelCase of its name."""
    checked = 0
    for model in MODELS:
        for name, field in model.model_fields.items():
            if field.alias_priority == 1 or field.alias_priority is None:
                assert field.alias == pydantic_to_camel(name), (model.__name__, name)
                checked += 1
    assert checked > 100
