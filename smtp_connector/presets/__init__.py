"""Provider knowledge: preset data model and catalog, the config a preset builds, the guard rails.
Imports only the shared vocabulary: rules and builder take the config (or its model) as input."""

from .build import camelize, deep_merge, preset_config
from .catalog import (
    find_preset,
    get_preset,
    list_presets,
    parse_preset,
    preset_files,
    preset_for_host,
    require_preset,
)
from .model import (
    TLS_LABELS,
    TLS_MODES,
    TLS_NAMES,
    PortSpec,
    Preset,
    PresetConfigWarning,
    PresetWarning,
    tls_fields,
)
from .rules import check_preset_rules, preset_warnings

__all__ = [
    "TLS_LABELS",
    "TLS_MODES",
    "TLS_NAMES",
    "PortSpec",
    "Preset",
    "PresetConfigWarning",
    "PresetWarning",
    "camelize",
    "check_preset_rules",
    "deep_merge",
    "find_preset",
    "get_preset",
    "list_presets",
    "parse_preset",
    "preset_config",
    "preset_files",
    "preset_for_host",
    "preset_warnings",
    "require_preset",
    "tls_fields",
]
