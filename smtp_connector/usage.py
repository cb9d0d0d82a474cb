"""Usage types and content types: the vocabulary shared with Logto's connector config."""

from __future__ import annotations

from enum import StrEnum

from .lazy import LazyPattern


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


KNOWN_USAGE_TYPES = tuple(u.value for u in UsageType)
# Logto sends an invitation as a link (`payload.link`), every other usage type as a code.
CODELESS_USAGE_TYPES = frozenset({UsageType.ORGANIZATION_INVITATION.value})
_SIMILARITY = 0.8  # "Regsiter" → Register is 0.88; the custom "BindEmail" → BindMfa only 0.75
_FOLD = LazyPattern(r"[^a-z0-9]")


def suggest_usage_type(usage_type: str) -> str | None:
    """The known usage type `usage_type` is probably a misspelling of, or None.

    Case, `_` and `-` are ignored ("signin", "SIGN_IN"), then a similarity cutoff catches
    transpositions ("Regsiter"). A known type itself, and a custom type not close to any known
    one ("PasswordlessMagic"), give None: custom types are allowed.
    """
    if usage_type in KNOWN_USAGE_TYPES:
        return None
    folded = {_fold(known): known for known in KNOWN_USAGE_TYPES}
    wanted = _fold(usage_type)
    if wanted in folded:
        return folded[wanted]
    import difflib  # a near miss only: a first send with a known type never loads it

    close = difflib.get_close_matches(wanted, list(folded), n=1, cutoff=_SIMILARITY)
    return folded[close[0]] if close else None


def _fold(name: str) -> str:
    return _FOLD.sub("", name.lower())
