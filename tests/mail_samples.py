"""The payloads the deliverability and browser tests send with each shipped usage type: what an
auth system sends (a six-digit code; an invitation's link, organization and inviter)."""

from __future__ import annotations

from typing import Any

from smtp_connector import UsageType

CODE = "482913"
LINK = "https://acme.example.com/invitation/accept?token=3f9a1c7e5b2d4068"
USAGE_TYPES = list(UsageType)


def sample_payload(usage: UsageType) -> dict[str, Any]:
    """A code for every usage type but the invitation, which Logto sends as a link."""
    if usage is UsageType.ORGANIZATION_INVITATION:
        return {
            "link": LINK,
            "organization": {"name": "Umbrella"},
            "inviter": {"name": "Ann Lee"},
            "application": {"name": "Acme"},
        }
    return {"code": CODE, "application": {"name": "Acme"}}
