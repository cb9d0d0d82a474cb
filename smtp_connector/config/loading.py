"""Reading config files: JSON or TOML, with `${ENV_VAR}` expansion so secrets stay out of files.

Expansion happens on parsed string values, not on the raw text, so a secret containing quotes or
backslashes cannot break the JSON/TOML syntax or inject keys.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConnectorError, ErrorCode

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# A config is a few levels deep (`templates[0].smime.…`); anything far deeper is a mistake or
# an attack, and Python's parsers and validators would recurse on it until RecursionError.
MAX_DEPTH = 32


def load_config_file(path: Path, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Parse `path` by its suffix (.toml, else JSON) and expand environment variables."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, f"Cannot read config file {str(path)!r}: {exc.strerror}."
        ) from None
    except UnicodeDecodeError as exc:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"Config file {str(path)!r} is not UTF-8 text (byte {exc.start}); save it as UTF-8.",
        ) from None
    data = _parse(raw, path)
    if not isinstance(data, dict):
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, f"Config file {str(path)!r} must hold a JSON/TOML object."
        )
    return expand_env(data, os.environ if env is None else env)


def _parse(raw: str, path: Path) -> Any:
    """The parsed file, no deeper than MAX_DEPTH; every way parsing can fail (a syntax error,
    nesting deep enough to exhaust the recursion limit, a number too long to convert) is one
    `invalid_config` naming the file."""
    kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
    too_deep = f"Config file {str(path)!r} nests deeper than {MAX_DEPTH} levels."
    try:
        data = tomllib.loads(raw) if kind == "TOML" else json.loads(raw)
    except RecursionError:
        raise ConnectorError(ErrorCode.INVALID_CONFIG, too_deep) from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, f"Config file {str(path)!r} is not valid {kind}: {exc}."
        ) from None
    if _deeper_than(data, MAX_DEPTH):
        raise ConnectorError(ErrorCode.INVALID_CONFIG, too_deep)
    return data


def _deeper_than(value: Any, limit: int) -> bool:
    """True when lists/objects nest deeper than `limit` (walked without recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth > limit:
                return True
            pending.extend((child, depth + 1) for child in item)
    return False


def expand_env(value: Any, env: Mapping[str, str], where: str = "") -> Any:
    """Recursively replace `${VAR}` / `${VAR:-default}` in strings; a missing VAR is an error."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: _lookup(m, env, where), value)
    if isinstance(value, list):
        return [expand_env(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: expand_env(v, env, f"{where}.{k}" if where else k) for k, v in value.items()}
    return value


def _lookup(match: re.Match[str], env: Mapping[str, str], where: str) -> str:
    name, default = match.group(1), match.group(2)
    if name in env:
        return env[name]
    if default is not None:
        return default
    raise ConnectorError(
        ErrorCode.INVALID_CONFIG,
        f"Environment variable {name} is not set (used by `{where}` in the config file); "
        f"export it or write ${{{name}:-default}}.",
    )
