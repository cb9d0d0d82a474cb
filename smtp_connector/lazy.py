"""Package names loaded from their modules on first use (PEP 562).

A package that re-exports its modules' names would import all of them with itself; with
`lazy_names` it imports a module when one of its names is first asked for, so a program pays
only for what it uses (the package root: no delivery stack for `import smtp_connector`;
`config`: no `SmtpConfig` for the service's own models), and regular expressions compiled on
first use (`LazyPattern`). Imports nothing of ours.
"""

from __future__ import annotations

import importlib
import re
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


class LazyPattern:
    """A module-level regular expression that a first plain send never uses (an error reply's
    enhanced status, `customHeaders`, HTML-only templates, Jinja's printf checks, …), compiled
    when first used: compiling one is Python code in `re` (100,000-2,000,000 instructions
    each, about 6 million for the dozen a cold start would compile for nothing). The first
    use of a method (`match`, `sub`, …) compiles the pattern and keeps that bound method on
    the instance, so later calls cost what calling the compiled pattern costs."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self._source = (pattern, flags)

    @property
    def compiled(self) -> bool:
        """Whether anything was asked of it yet (tests/test_layout.py checks a first send)."""
        return len(vars(self)) > 1

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy/pickle probing special names: not a pattern's
            raise AttributeError(name)
        value = getattr(re.compile(*self._source), name)
        setattr(self, name, value)
        return value
