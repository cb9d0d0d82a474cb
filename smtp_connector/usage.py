"""Usage types and content types: the vocabulary shared with Logto's connector config."""

from __future__ import annotations

from enum import StrEnum


class UsageType(StrEnum):
    """Why a code is being sent. Values are Logto's strings; unknown strings are custom types."""

    REGISTER = "Register"
    SIGN_IN = "SignIn"
    FORGOT_PASSWORD = "ForgotPassword"
    GENERIC = "Generic"
    ORGANIZATION_INVITATION = "OrganizationInvitation"
    USER_PERMISSION_VALIDATION = "UserPermissionValidation"
    BIND_NEW_IDENTIFIER = "BindNewIdentifier"
    MFA_VERIFICATION = "MfaVerification"
    BIND_MFA = "BindMfa"


class ContentType(StrEnum):
    """Body type of a Logto template's `content`."""

    TEXT = "text/plain"
    HTML = "text/html"


def usage_key(usage_type: UsageType | str) -> str:
    """Normalise a usage type to its wire string so custom types and enum members compare equal."""
    return usage_type.value if isinstance(usage_type, UsageType) else str(usage_type)
