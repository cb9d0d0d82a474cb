"""`smtp-connector templates export|import --app ID DIR` (templates as code), on SQLite and
PostgreSQL, beside a real `serve`: templates stored through Logto's API are exported, imported
into another app and exported again byte for byte; what the other app then answers over HTTP
is what the first one holds. A repository with broken files imports nothing and names each
file; unknown apps and missing directories exit with the CLI's codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from click.testing import CliRunner
from service_support import (
    SECRET_KEY,
    ServeProcess,
    cli,
    key_headers,
    postgres_database,
    serve_env,
    start_serve,
)

from smtp_connector.cli import main

URL = "/api/email-templates"
TEMPLATES: list[dict[str, Any]] = [
    {"languageTag": "en", "templateType": "SignIn",
     "details": {"subject": "Your code", "content": "<p>Code: {{code}}</p>",
                 "contentType": "text/html", "replyTo": "help@example.com",
                 "sendFrom": "Shop <shop@example.com>"}},
    {"languageTag": "pt-BR", "templateType": "SignIn",
     "details": {"subject": "Seu código", "content": "Código: {{code}} — até já",
                 "contentType": "text/plain"}},
    {"languageTag": "de", "templateType": "OrganizationInvitation",
     "details": {"subject": "Einladung", "content": "<a href=\"{{link}}\">Beitreten</a>",
                 "contentType": "text/html"}},
]  # fmt: skip


def invoke(*args: str, **env: str) -> tuple[int, str, str]:
    env["SMTP_CONNECTOR_SECRET_KEY"] = SECRET_KEY
    result = CliRunner().invoke(main, list(args), prog_name="smtp-connector", env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServeProcess, str, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("templates-cli")
    sqlite = nullcontext(f"sqlite:///{folder / 'service.db'}")
    with postgres_database() if request.param == "postgres" else sqlite as url:
        cli("db", "upgrade", "--database-url", url, env=serve_env())
        operator = key_headers(url)
        process = start_serve(url, folder / "serve.log", serve_env())
        try:
            with httpx.Client(base_url=process.base_url, headers=operator) as http:
                for app in ("shop", "shop-staging", "empty"):
                    created = http.post("/v1/apps", json={"name": app, "id": app})
                    assert created.status_code == 201, created.text
            yield process, url, operator
        finally:
            process.stop()


def tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file()}  # fmt: skip


def test_export_import_export_is_equal_and_serves_the_same(
    served: tuple[ServeProcess, str, dict[str, str]], tmp_path: Path
) -> None:
    process, url, _ = served
    shop, staging = key_headers(url, app="shop"), key_headers(url, app="shop-staging")
    with httpx.Client(base_url=process.base_url, headers=shop) as http:
        assert http.put(URL, json={"templates": TEMPLATES}).status_code == 200

    code, out, err = invoke("templates", "export", "--app", "shop", str(tmp_path / "a"),
                            "--database-url", url)  # fmt: skip
    assert code == 0, err
    first = tree(tmp_path / "a")
    assert sorted(first) == ["OrganizationInvitation/de.json", "SignIn/en.json",
                             "SignIn/pt-BR.json"]  # fmt: skip
    assert json.loads(first["SignIn/en.json"]) == TEMPLATES[0]["details"]
    assert "Seu código" in first["SignIn/pt-BR.json"].decode()  # UTF-8 as written, not \\u
    assert "Exported 3 template(s)" in out

    code, out, err = invoke("templates", "import", "--app", "shop-staging",
                            str(tmp_path / "a"), "--database-url", url)  # fmt: skip
    assert code == 0, err
    assert "Imported 3 template(s) into app shop-staging" in out

    code, _, err = invoke("templates", "export", "--app", "shop-staging", str(tmp_path / "b"),
                          "--database-url", url)  # fmt: skip
    assert code == 0, err
    assert tree(tmp_path / "b") == first

    def served_details(headers: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
        with httpx.Client(base_url=process.base_url, headers=headers) as http:
            listed = http.get(URL).json()
        return [(t["languageTag"], t["templateType"], t["details"]) for t in listed]

    assert served_details(staging) == served_details(shop)

    # Importing the same files again is a new version of each, nothing else changes.
    code, out, err = invoke("templates", "import", "--app", "shop-staging",
                            str(tmp_path / "a"), "--database-url", url, "--json")  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["ok"] is True and report["errors"] == []
    again = {(i["usageType"], i["locale"], i["version"], i["created"]) for i in report["imported"]}
    assert again == {("SignIn", "en", 2, False), ("SignIn", "pt-BR", 2, False),
                     ("OrganizationInvitation", "de", 2, False)}  # fmt: skip


def write(directory: Path, name: str, content: Any) -> None:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))


def test_a_repository_with_broken_files_imports_nothing_and_names_each(
    served: tuple[ServeProcess, str, dict[str, str]], tmp_path: Path
) -> None:
    _, url, _ = served
    repo = tmp_path / "repo"
    good = {"subject": "Welcome", "content": "<p>{{code}}</p>"}
    write(repo, "Register/en.json", good)
    write(repo, "SignIn/en.json", {"subject": "Code", "content": "<p>{{ code }</p>"})
    write(repo, "SignIn/de.json", "{not json")
    write(repo, "Generic/en.json", {"subjet": "typo", "content": "x"})
    write(repo, "ForgotPassword/fr.json", good | {"sendFrom": "a@example.com\r\nBcc: x@evil.test"})
    write(repo, "ForgotPassword/es.json",
          {"subject": "x", "content": "{% for i in range(10**9) %}{% endfor %}"})  # fmt: skip
    write(repo, "Sign In/en.json", good)  # a directory name that is no usage type
    write(repo, "BindMfa/en.json", good | {"content": "<p>{{code}}\u0000</p>"})  # PostgreSQL
    write(repo, "README.md", "not a template: ignored")
    secret = tmp_path / "elsewhere.txt"  # a link out of the repository: its text never shown
    secret.write_text("token=SECRET-9f8e7d")
    (repo / "Register" / "de.json").symlink_to(secret)

    code, out, err = invoke("templates", "import", "--app", "empty", str(repo),
                            "--database-url", url)  # fmt: skip
    assert code == 3, (out, err)
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    named = {line.split(":")[1].strip() for line in lines}
    assert named == {"SignIn/en.json", "SignIn/de.json", "Generic/en.json", "Sign In/en.json",
                     "ForgotPassword/fr.json", "ForgotPassword/es.json",
                     "BindMfa/en.json", "Register/de.json"}  # fmt: skip
    assert "SECRET-9f8e7d" not in out + err
    by_file = {line.split(":")[1].strip(): line for line in lines}
    assert "line 1" in by_file["SignIn/en.json"]
    assert "not JSON" in by_file["SignIn/de.json"]
    assert "subjet" in by_file["Generic/en.json"]
    assert "line break" in by_file["ForgotPassword/fr.json"]
    assert "limit" in by_file["ForgotPassword/es.json"]
    assert "NUL" in by_file["BindMfa/en.json"]
    assert "Nothing imported: 8 file(s) refused." in err

    code, out, _ = invoke("templates", "import", "--app", "empty", str(repo),
                          "--database-url", url, "--json")  # fmt: skip
    assert code == 3
    report = json.loads(out)
    assert report["ok"] is False and report["imported"] == []
    assert {e["code"] for e in report["errors"]} >= {"template_error", "invalid_request"}
    assert all(set(e) == {"file", "code", "message"} for e in report["errors"])

    code, out, _ = invoke("templates", "export", "--app", "empty", str(tmp_path / "out"),
                          "--database-url", url, "--json")  # fmt: skip
    assert code == 0 and json.loads(out)["files"] == []


def test_more_files_than_the_app_may_hold_imports_none(
    served: tuple[ServeProcess, str, dict[str, str]], tmp_path: Path
) -> None:
    _, url, _ = served
    for tag in ("en", "de", "fr"):
        write(tmp_path, f"Generic/{tag}.json", {"subject": "Hi", "content": "{{code}}"})
    code, out, err = invoke("templates", "import", "--app", "empty", str(tmp_path),
                            "--database-url", url, "--json",
                            SMTP_CONNECTOR_MAX_TEMPLATES_PER_APP="2")  # fmt: skip
    assert code == 3, err
    (refusal,) = json.loads(out)["errors"]
    assert refusal["file"] == "(all files)" and refusal["code"] == "too_many_templates"
    assert "(2)" in refusal["message"] and "MAX_TEMPLATES_PER_APP" in refusal["message"]
    code, out, _ = invoke("templates", "export", "--app", "empty", str(tmp_path / "out"),
                          "--database-url", url, "--json")  # fmt: skip
    assert json.loads(out)["files"] == []


def test_unknown_app_and_missing_directory_exit_codes(
    served: tuple[ServeProcess, str, dict[str, str]], tmp_path: Path
) -> None:
    _, url, _ = served
    (tmp_path / "SignIn").mkdir()
    code, _, err = invoke("templates", "export", "--app", "nope", str(tmp_path / "x"),
                          "--database-url", url)  # fmt: skip
    assert code == 4 and "[not_found]" in err and "nope" in err
    code, _, err = invoke("templates", "import", "--app", "nope", str(tmp_path),
                          "--database-url", url)  # fmt: skip
    assert code == 4
    code, _, err = invoke("templates", "import", "--app", "shop", str(tmp_path / "missing"),
                          "--database-url", url)  # fmt: skip
    assert code == 2 and "missing" in err
    code, _, err = invoke("templates", "export", "--app", "../shop", str(tmp_path / "x"),
                          "--database-url", url)  # fmt: skip
    assert code == 4 and "../shop" in err  # an app is an id or a name, never a path
    (tmp_path / "a-file").write_text("")
    code, _, err = invoke("templates", "import", "--app", "shop", str(tmp_path / "a-file"),
                          "--database-url", url)  # fmt: skip
    assert code == 2 and "a-file" in err
    # The installed script, as a CI job runs it: the same codes.
    env = serve_env()
    ran = cli("templates", "import", "--app", "nope", str(tmp_path), "--database-url", url,
              env=env, check=False)  # fmt: skip
    assert ran.returncode == 4, ran.stderr
