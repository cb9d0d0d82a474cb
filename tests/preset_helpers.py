"""Shared helpers of the preset tests: lookups, guard-rail codes, hand-written configs."""

from __future__ import annotations

import warnings
from typing import Any

from smtp_connector.config import SmtpConfig
from smtp_connector.presets import (
    Preset,
    PresetConfigWarning,
    get_preset,
    preset_warnings,
)

SECRET = "Sup3r-Secret-Pw!x9"
REQUIRED = {
    "gmail",
    "google-workspace-relay",
    "sendgrid",
    "aliyun",
    "ses",
    "microsoft365",
    "outlook",
    "mailgun",
    "postmark",
    "brevo",
    "mailjet",
    "zoho",
    "resend",
    "qq",
    "exmail",
    "netease-163",
    "netease-126",
    "yahoo",
    "icloud",
    "fastmail",
    "sparkpost",
    "mailtrap-sandbox",
    "mailtrap",
}


def preset(name: str) -> Preset:
    found = get_preset(name)
    assert found is not None, name
    return found


def codes(config: SmtpConfig, **kwargs: Any) -> dict[str, str]:
    """Guard-rail code → severity for a config."""
    return {w.code: w.severity for w in preset_warnings(config, **kwargs)}


def raw_config(**values: Any) -> SmtpConfig:
    """A config as a user would write it by hand (no preset involved)."""
    base: dict[str, Any] = {"fromEmail": "me@example.com"}
    return SmtpConfig.model_validate(base | values)


def quiet_from_preset(name: str, **kwargs: Any) -> SmtpConfig:
    """from_preset, failing the test on any guard-rail warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", PresetConfigWarning)
        return SmtpConfig.from_preset(name, **kwargs)
