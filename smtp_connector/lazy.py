"""Package names loaded from their modules on first use (PEP 562).

A package that re-exports its modules' names would import all of them with itself; with
`lazy_names` it imports a module when one of its names is first asked for, so a program pays
only for what it uses (the package root: no delivery stack for `import smtp_connector`;
`config`: no `SmtpConfig` for the service's own models). Imports nothing of ours.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(
    package: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """`(__getattr__, __dir__)` for `package`, whose names live in the modules `homes` gives
    (relative, like ".errors"); a name is imported once, then kept in the package."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted([*vars(sys.modules[package]), *homes])

    return __getattr__, __dir__
