"""`MessageRequest` skips `ConfigModel`'s post-init walk, which registers secret values for
redaction (store/domain.py, issue 26 §1): that holds only while none of its fields can hold a
secret, so this test fails the day one is added, and the model still validates as before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from pydantic import SecretStr, ValidationError

from smtp_connector.store import MessageRequest


def test_no_field_can_hold_a_secret() -> None:
    assert MessageRequest.__pydantic_post_init__ is None
    for name, field in MessageRequest.model_fields.items():
        assert "Secret" not in str(field.annotation), name
    request = MessageRequest.model_validate({"to": "a@example.org", "payload": {"k": "v"}})
    assert not any(isinstance(value, SecretStr) for value in vars(request).values())


def test_it_validates_as_before() -> None:
    request = MessageRequest.model_validate(
        {"to": "a@example.org", "usageType": "SignIn", "expiresAt": "2030-01-01T00:00:00"}
    )
    assert request.usage_type == "SignIn" and request.payload == {}
    assert request.expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    with pytest.raises(ValidationError):
        MessageRequest.model_validate({"to": "a@example.org", "unknown": 1})
    with pytest.raises(ValidationError):
        MessageRequest.model_validate({"to": "a", "maxAttempts": 0})
