"""Access to the data shipped inside the package (templates/, provider_presets/).

The wheel carries the top-level data folders as `smtp_connector/_data/...` (hatch force-include),
and they are read only through `importlib.resources`, so an installed package never depends on
the checkout it was built from.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from .errors import ConnectorError, ErrorCode


def data_dir(name: str) -> Traversable:
    """The shipped data folder `name` ("templates" or "provider_presets")."""
    folder = files("smtp_connector") / "_data"
    for part in name.split("/"):
        folder = folder / part
    if not folder.is_dir():
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"Shipped data folder {name!r} is missing from the installed package; "
            "reinstall with `pip install .` (an editable install does not carry it).",
        )
    return folder


def read_text(folder: str, filename: str) -> str:
    return data_dir(folder).joinpath(filename).read_text(encoding="utf-8")


def list_files(folder: str, suffix: str) -> list[str]:
    return sorted(p.name for p in data_dir(folder).iterdir() if p.name.endswith(suffix))
