"""Usage types and content types: the vocabulary shared with Logto's connector config."""

from __future__ import annotations

from enum import Enum


class UsageType(str, Enum):
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

    def __str__(self) -> str:
        return self.value


class ContentType(str, Enum):
    """Body type of a Logto template's `content`."""

    TEXT = "text/plain"
    HTML = "text/html"

    def __str__(self) -> str:
        return self.value


def usage_key(usage_type: UsageType | str) -> str:
    """Normalise a usage type to its wire string so custom types and enum members compare equal."""
    return usage_type.value if isinstance(usage_type, UsageType) else str(usage_type)
