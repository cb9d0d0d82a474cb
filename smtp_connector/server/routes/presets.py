"""`/v1/presets`: the library's provider presets, read-only, for forms that fill a definition.

A person picking "SendGrid" in a form should get the host, port and TLS mode the provider
serves, and be told about the provider's guard rails (the username must be `apikey`; Aliyun's
From must equal the login; port 25 is blocked on clouds) before the first test mail fails.
`GET /v1/presets` lists what to fill; `GET /v1/presets/{name}/warnings` runs the library's
guard rails (`preset_warnings`, quirks included) over the values typed so far. No password is
ever asked for: the rules do not need one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from ..deps import Reader
from ..errors import NATIVE_ERRORS, ApiFailure, Failure
from .preset_terms import LEFT_OUT, in_api_terms

if TYPE_CHECKING:  # the catalog loads with the first request for it, not when `serve` starts
    from smtp_connector.presets import Preset

router = APIRouter(prefix="/v1/presets", tags=["presets"], responses=NATIVE_ERRORS)

Security = Literal["none", "starttls", "tls"]
# A preset's TLS mode as a definition's `security`. "plain" ports (STARTTLS when offered) become
# "starttls", which requires it: a stored password should not go over a clear connection.
SECURITY_FOR_TLS: dict[str, Security] = {"implicit": "tls", "starttls": "starttls",
                                         "plain": "starttls"}  # fmt: skip


class PresetPort(BaseModel):
    port: int
    security: Security
    note: str | None


class PresetRegion(BaseModel):
    id: str
    name: str
    host: str
    deprecated: bool


class PresetSummary(BaseModel):
    """What a form fills from a preset, and the help it shows beside the credentials."""

    name: str
    displayName: str
    description: str
    host: str
    region: str | None
    regions: list[PresetRegion]
    port: int
    security: Security
    ports: list[PresetPort]
    username: str | None  # the literal username (SendGrid's `apikey`), else None
    usernameHelp: str
    passwordHelp: str
    oauthOnly: bool
    docsUrl: str


class Finding(BaseModel):
    code: str
    message: str
    severity: Literal["info", "warning", "error"]


class PresetFindings(BaseModel):
    preset: str
    warnings: list[Finding]


def summary(preset: Preset) -> PresetSummary:
    default = preset.default_port
    return PresetSummary(
        name=preset.name,
        displayName=preset.display_name,
        description=preset.description,
        host=preset.display_host,
        region=preset.default_region,
        regions=[
            PresetRegion(id=r.id, name=r.name, host=preset.host_for(r.id), deprecated=r.deprecated)
            for r in preset.regions
        ],
        port=default.port,
        security=SECURITY_FOR_TLS[default.tls],
        ports=[
            PresetPort(
                port=p.port,
                security=SECURITY_FOR_TLS[p.tls],
                note=in_api_terms(p.note) if p.note else None,
            )
            for p in preset.ports
        ],
        username=preset.username.value if preset.username.rule == "literal" else None,
        usernameHelp=in_api_terms(preset.username.description),
        passwordHelp=in_api_terms(preset.password.description),
        oauthOnly=not preset.auth.password,
        docsUrl=preset.docs_url,
    )


# -- the form's values as the views the guard rails read (presets.rules' Protocols) ------------


@dataclass(frozen=True)
class _FormAuth:
    enabled: bool
    type: str | None
    user: str | None


@dataclass(frozen=True)
class _FormServer:
    host: str | None
    effective_port: int
    implicit_tls: bool
    ignore_tls: bool
    auth: _FormAuth

    @property
    def address(self) -> str:
        return f"{self.host}:{self.effective_port}"


@dataclass(frozen=True)
class _FormConfig:
    """One server, as typed; the rules get no SmtpConfig, so no placeholder password is needed
    (and none is registered with the library's redaction list)."""

    server: _FormServer
    from_email: str

    @property
    def host(self) -> str | None:
        return self.server.host

    @property
    def servers(self) -> list[_FormServer]:
        return []

    def server_list(self) -> list[_FormServer]:
        return [self.server]


def _find(name: str) -> Preset:
    from smtp_connector.presets import get_preset, list_presets

    preset = get_preset(name)
    if preset is None:
        message = f"No preset {name!r}; known: {', '.join(list_presets())}."
        raise ApiFailure(Failure(404, "not_found", message))
    return preset


@router.get("", response_model=list[PresetSummary])
async def presets(actor: Reader) -> list[PresetSummary]:
    from smtp_connector.presets import get_preset, list_presets

    return [summary(p) for p in (get_preset(n) for n in list_presets()) if p is not None]


@router.get("/{name}/warnings", response_model=PresetFindings)
async def warnings(
    actor: Reader,
    name: Annotated[str, Path(max_length=200)],
    host: Annotated[str | None, Query(max_length=255)] = None,
    port: Annotated[int | None, Query(ge=1, le=65535)] = None,
    security: Security | None = None,
    auth: bool = True,
    username: Annotated[str | None, Query(max_length=320)] = None,
    from_email: Annotated[str | None, Query(alias="fromEmail", max_length=320)] = None,
) -> PresetFindings:
    """Guard-rail findings for the values typed so far (defaults: the preset's own); severity
    `error` means the provider will refuse them, `warning` that they work but surprise."""
    from smtp_connector.presets import preset_warnings

    preset = _find(name)
    default = preset.default_port
    security = security or SECURITY_FOR_TLS[default.tls]
    user = (username or "").strip() or None
    server = _FormServer(
        host=(host or "").strip() or preset.display_host,
        effective_port=port or default.port,
        implicit_tls=security == "tls",
        ignore_tls=security == "none",
        auth=_FormAuth(enabled=auth and user is not None, type="login" if auth else None,
                       user=user),
    )  # fmt: skip
    # No From typed yet: judge the login alone, not a From nobody chose.
    sender = (from_email or "").strip() or user or ""
    config = _FormConfig(server, sender)
    rules = preset_warnings(config, preset)
    # A documented quirk says in general what a rule finding says about these values: show
    # the quirk only while no finding of the same code does.
    seen = {w.code for w in rules}
    quirks = [w for w in preset_warnings(config, preset, include_quirks=True) if w.code not in seen]
    return PresetFindings(
        preset=preset.name,
        warnings=[Finding(code=w.code, message=in_api_terms(w.message), severity=w.severity)
                  for w in [*rules, *quirks] if w.code not in LEFT_OUT],
    )  # fmt: skip
