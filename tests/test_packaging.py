"""Packaging: shipped data is read through importlib.resources and is inside the built wheel."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
import zipfile
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pytest

from smtp_connector import ConnectorError, ErrorCode, resources
from smtp_connector.compose.shipped import shipped_locales

ROOT = Path(__file__).resolve().parents[1]
REQUIRED_LOCALES = {"en", "es", "zh-CN", "fr", "de", "ja", "pt"}


@pytest.mark.parametrize("name", ["templates", "templates/locales", "provider_presets"])
def test_data_dir_is_a_traversable_under_package_data(name: str) -> None:
    folder = resources.data_dir(name)
    assert isinstance(folder, Traversable)
    assert folder.is_dir()
    expected = files("smtp_connector").joinpath("_data", *name.split("/"))
    assert str(folder) == str(expected)
    assert Path(str(folder)).as_posix().endswith(f"smtp_connector/_data/{name}")


def test_shipped_files_found_through_resources() -> None:
    templates = resources.data_dir("templates")
    assert templates.joinpath("layout.html").is_file()
    assert templates.joinpath("layout.txt").is_file()
    assert templates.joinpath("layout.toml").is_file()
    assert "<html" in resources.read_text("templates", "layout.html")
    locales = resources.list_files("templates/locales", ".toml")
    assert {f"{name}.toml" for name in REQUIRED_LOCALES} <= set(locales)
    assert set(shipped_locales()) >= REQUIRED_LOCALES
    presets = resources.list_files("provider_presets", ".toml")
    assert presets, "no provider presets shipped"
    assert "gmail.toml" in presets
    assert "[Register]" in resources.read_text("templates/locales", "en.toml")


def test_data_dir_goes_through_importlib_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_files = resources.files

    def spy(package: Any) -> Traversable:
        calls.append(str(package))
        return real_files(package)

    monkeypatch.setattr(resources, "files", spy)
    assert resources.read_text("templates", "layout.txt")
    assert resources.list_files("provider_presets", ".toml")
    assert calls and all(name == "smtp_connector" for name in calls)


def test_missing_data_folder_is_a_clear_error() -> None:
    with pytest.raises(ConnectorError) as info:
        resources.data_dir("no_such_folder")
    assert info.value.code is ErrorCode.INVALID_CONFIG
    assert "no_such_folder" in info.value.message


# -- the built wheel ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("hatchling") is None:
        pytest.skip("hatchling is not installed; cannot build the wheel offline")
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = out.glob("smtp_connector-*.whl")
    return built


def test_wheel_contains_shipped_data(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "smtp_connector/_data/templates/layout.html" in names
    assert "smtp_connector/_data/templates/layout.txt" in names
    assert "smtp_connector/_data/templates/layout.toml" in names
    assert "smtp_connector/_data/templates/locales/en.toml" in names
    assert "smtp_connector/py.typed" in names  # users' type checkers see our annotations
    shipped = {
        name.removeprefix("smtp_connector/_data/templates/locales/").removesuffix(".toml")
        for name in names
        if name.startswith("smtp_connector/_data/templates/locales/") and name.endswith(".toml")
    }
    in_checkout = {path.stem for path in (ROOT / "templates" / "locales").glob("*.toml")}
    assert shipped == in_checkout
    assert shipped >= REQUIRED_LOCALES
    presets = {
        name
        for name in names
        if name.startswith("smtp_connector/_data/provider_presets/") and name.endswith(".toml")
    }
    assert presets
    assert "smtp_connector/_data/provider_presets/gmail.toml" in presets
    assert "smtp_connector/resources.py" in names
    # The admin page's template and static files are package data under server/web/.
    web = "smtp_connector/server/web/"
    assert {f"{web}templates/index.html", f"{web}static/admin.js", f"{web}static/api.js",
            f"{web}static/admin.css"} <= names  # fmt: skip
    in_checkout = {
        f"{web}{path.relative_to(ROOT / web).as_posix()}"
        for path in (ROOT / web).rglob("*")
        if path.is_file() and path.suffix in {".html", ".js", ".css"}
    }
    assert in_checkout <= names


def test_wheel_renders_shipped_templates_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    """Unpacked away from the checkout, the package still finds its data."""
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    script = (
        "import smtp_connector, sys\n"
        "from smtp_connector import SmtpConnector, list_presets\n"
        "from smtp_connector.resources import data_dir\n"
        "assert smtp_connector.__file__.startswith(sys.argv[1]), smtp_connector.__file__\n"
        "assert str(data_dir('templates')).startswith(sys.argv[1])\n"
        "c = SmtpConnector({'host': 'smtp.example.com', 'fromEmail': 'a@example.com'})\n"
        "r = c.render('SignIn', {'code': '482913'}, locale='ja')\n"
        "assert '482913' in r.html and '482913' in r.text and r.locale == 'ja'\n"
        "assert 'gmail' in list_presets()\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-c", script, str(site)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"


def test_supported_python_versions_are_declared_once() -> None:
    """requires-python, the version classifiers and the README name the same versions, and the
    interpreter running the tests is one of them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    floor = re.fullmatch(r">=3\.(\d+)", project["requires-python"])
    assert floor, project["requires-python"]
    prefix = "Programming Language :: Python :: 3."
    classified = sorted(
        int(c.removeprefix(prefix))
        for c in project["classifiers"]
        if re.fullmatch(re.escape(prefix) + r"\d+", c)
    )
    assert classified[0] == int(floor.group(1))
    assert classified == list(range(classified[0], classified[-1] + 1))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = ", ".join(f"3.{minor}" for minor in classified[:-1]) + f" and 3.{classified[-1]}"
    assert f"**Python {listed}**" in readme
    assert sys.version_info[:2] >= (3, classified[0])


def test_wheel_serves_the_admin_page_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    """The page and every static file it links come from the unpacked wheel, not the checkout."""
    if importlib.util.find_spec("fastapi") is None and os.environ.get("CI") != "true":
        pytest.skip("the admin page needs the `server` extra")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    script = (
        "import re, sys\n"
        "from fastapi import FastAPI\n"
        "from fastapi.testclient import TestClient\n"
        "from smtp_connector.server.web import pages\n"
        "assert pages.__file__.startswith(sys.argv[1]), pages.__file__\n"
        "app = FastAPI()\n"
        "pages.install(app)\n"
        "client = TestClient(app)\n"
        "page = client.get('/').text\n"
        "linked = re.findall(r'/static/([a-z]+[.](?:js|css))', page)\n"
        "modules = re.findall(r'from \"[.]/([a-z]+[.]js)\"', client.get('/static/admin.js').text)\n"
        "assert linked and modules, (linked, modules)\n"
        "for name in linked + modules:\n"
        "    assert client.get('/static/' + name).status_code == 200, name\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-c", script, str(site)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "ok"
