"""Finding presets: load the shipped files once, and look them up by name, alias, `name-region`,
mailbox domain or SMTP host.

Data is read only through `smtp_connector.resources` (importlib.resources), so an installed
wheel works without the checkout; parsing happens once per process (`functools.lru_cache`).
"""

from __future__ import annotations

import difflib
import functools
import tomllib
from email.utils import parseaddr

from pydantic import ValidationError

from .. import resources
from ..errors import ConnectorError, ErrorCode
from .model import Preset, lookup_key

PRESETS_FOLDER = "provider_presets"


def parse_preset(text: str, source: str = "<preset>") -> Preset:
    """Parse one preset file's TOML text; errors name the file and the field."""
    try:
        data = tomllib.loads(text)
        return Preset.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, f"Preset file {source} is not valid TOML: {exc}."
        ) from None
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in err['loc']) or '(file)'}`: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, f"Preset file {source} is invalid: {problems}."
        ) from None


def preset_files() -> list[str]:
    """The shipped preset file names (read via importlib.resources)."""
    return resources.list_files(PRESETS_FOLDER, ".toml")


@functools.lru_cache(maxsize=1)
def _all_presets() -> dict[str, Preset]:
    """Every shipped preset by name, parsed once per process."""
    presets: dict[str, Preset] = {}
    for filename in preset_files():
        preset = parse_preset(resources.read_text(PRESETS_FOLDER, filename), filename)
        if f"{preset.name}.toml" != filename:
            raise ConnectorError(
                ErrorCode.INVALID_CONFIG,
                f"Preset file {filename} declares name {preset.name!r}; rename one to match.",
            )
        presets[preset.name] = preset
    return presets


@functools.lru_cache(maxsize=1)
def _name_index() -> dict[str, tuple[str, str | None]]:
    """Lookup key → (preset name, region implied by the alias or None)."""
    index: dict[str, tuple[str, str | None]] = {}
    for preset in _all_presets().values():
        entries: list[tuple[str, str | None]] = [
            (n, None) for n in (preset.name, preset.display_name, *preset.aliases)
        ]
        entries += [(a, r.id) for r in preset.regions for a in r.preset_aliases]
        for alias, region in entries:
            target = (preset.name, region)
            previous = index.setdefault(lookup_key(alias), target)
            if previous != target:
                raise ConnectorError(
                    ErrorCode.INVALID_CONFIG,
                    f"Preset alias {alias!r} is claimed by both {previous[0]} and {preset.name}.",
                )
    return index


@functools.lru_cache(maxsize=1)
def _domain_index() -> dict[str, tuple[str, str | None]]:
    """Mailbox domain → (preset name, region serving that domain or None)."""
    index: dict[str, tuple[str, str | None]] = {}
    for preset in _all_presets().values():
        for domain in preset.domains:
            index[domain.lower()] = (preset.name, None)
        for region in preset.regions:
            for domain in region.domains:
                index[domain.lower()] = (preset.name, region.id)
    return index


def list_presets() -> list[str]:
    """The names of all shipped presets, sorted."""
    return sorted(_all_presets())


def get_preset(name_or_alias_or_email: str) -> Preset | None:
    """Find a preset by name, alias ("Google Mail"), `name-region` ("mailgun-eu"), or the domain
    of an email address ("me@gmail.com"), case-insensitively; None when nothing matches."""
    found = find_preset(name_or_alias_or_email)
    return found[0] if found else None


def find_preset(query: str) -> tuple[Preset, str | None] | None:
    """Like `get_preset`, but also returns the region the query implies (e.g. "zoho-eu" → eu)."""
    if not isinstance(query, str) or not query.strip():
        return None
    text = query.strip()
    hit = _name_index().get(lookup_key(text)) or _region_suffix(text) or _domain_hit(text)
    if hit is None:
        return None
    return _all_presets()[hit[0]], hit[1]


def _region_suffix(text: str) -> tuple[str, str | None] | None:
    """`<preset>-<region>` / `<preset> <region>` for any regional preset ("ses-eu-west-1")."""
    lowered = text.lower()
    for name in sorted(_all_presets(), key=len, reverse=True):
        for sep in ("-", " ", "_"):
            if lowered.startswith(name + sep):
                preset = _all_presets()[name]
                rest = lowered[len(name) + 1 :]
                region = preset.find_region(rest)
                if region is not None:
                    return name, region.id
                if preset.accepts_region_id(rest):
                    return name, rest
    return None


def _domain_hit(text: str) -> tuple[str, str | None] | None:
    """Match an address's domain, or a parent of it ("x.onmicrosoft.com" → microsoft365)."""
    address = parseaddr(text)[1] or text
    if "@" in address:
        domain = address.rpartition("@")[2]
    elif "." in address and " " not in address:
        domain = address
    else:
        return None
    labels = domain.strip().rstrip(".").lower().split(".")
    index = _domain_index()
    for start in range(len(labels) - 1):
        hit = index.get(".".join(labels[start:]))
        if hit is not None:
            return hit
    return None


def preset_for_host(host: str | None) -> tuple[Preset, str | None] | None:
    """The preset (and region) whose server `host` is, so any config can be checked."""
    for preset in _all_presets().values():
        matched, region = preset.match_host(host)
        if matched:
            return preset, region
    return None


def require_preset(query: str) -> tuple[Preset, str | None]:
    """`find_preset`, or `invalid_config` naming close matches and all presets."""
    found = find_preset(query)
    if found is not None:
        return found
    shown = repr(query)[:80] if isinstance(query, str) else type(query).__name__
    candidates = sorted({k for p in _all_presets().values() for k in (p.name, *p.aliases)})
    close = difflib.get_close_matches(str(query).strip().lower(), candidates, n=3, cutoff=0.6)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ConnectorError(
        ErrorCode.INVALID_CONFIG,
        f"Unknown provider preset {shown}.{hint} Known presets: {', '.join(list_presets())}.",
        retryable=False,
    )
