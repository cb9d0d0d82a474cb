"""Loaded at start-up by a Python whose PYTHONPATH starts with this folder: makes the modules
named in $SMTP_CONNECTOR_TEST_HIDE (comma-separated top-level names) unimportable, as they are
after a `pip install .` without the extra that brings them. Used by tests/cli/test_cli_edges.py
to run the real console script "without" an extra, instead of building a venv per case."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

HIDDEN = frozenset(filter(None, os.environ.get("SMTP_CONNECTOR_TEST_HIDE", "").split(",")))


class HideModules(MetaPathFinder):
    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, HideModules())
