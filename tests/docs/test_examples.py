"""Every example in README.md and docs/ runs (issue 25 §3), read with Sybil.

Each page is one test: its `python`, `sh` and `console` blocks run in order, the way a reader
would paste them, sharing what earlier blocks defined (Python names; shell variables and
functions).

- Python blocks run in the page's namespace against a real `smtp-connector sink` (the port the
  text names, 1025, is swapped for the sink's free port) or the `memory` transport.
- Shell blocks (and the `$ ` lines of `console` transcripts) run with `bash -eu -o pipefail` in
  a scratch folder per page, against that sink and a real `smtp-connector serve` (8025 swapped
  likewise), with `smtp-connector` on PATH and `SMTP_CONNECTOR_DATABASE_URL` naming serve's
  database. Each page starts with what the
  service walkthrough sets: `API` (also as `URL`), `KEY`, `H`, `J`, `json_id`, and `APP`/`ID`
  (an app of its own with one definition: the sink).
- A block that cannot run here carries Sybil's `<!-- skip: next "reason" -->` right before it.

The count is the point: each page's `python`, `sh`, `bash`, `shell` and `console` blocks must
all be either run or skipped with a reason, so none is silently left out (a reasonless skip,
a typo in a language tag the runner does not know, a block Sybil did not see: each fails).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import SkipTest

import httpx
import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from service_support import key_headers, serve_env, start_serve
from smtp_servers import free_port
from sybil import Example, Sybil
from sybil.parsers.markdown import CodeBlockParser, SkipParser
from sybil.parsers.markdown.lexers import FencedCodeBlockLexer

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BIN = Path(sys.executable).parent
# Fenced blocks a reader would run: each must be run here or skipped with a reason.
COUNTED = r"(?:python|py|pycon|sh|bash|shell|console|zsh)"
# Shell state carried from block to block: the variables and functions a block added.
CARRY = """
__before=$(compgen -v)
source "$__STATE"
{source}
{{ declare -f
   for __name in $(compgen -v); do
     case $__name in __*|BASH*|_|FUNCNAME|PIPESTATUS|LINENO|RANDOM|SECONDS|OPT*) continue;; esac
     grep -qx "$__name" <<<"$__before" || declare -p "$__name"
   done; }} > "$__STATE.next"
mv "$__STATE.next" "$__STATE"
"""


@dataclass
class Ports:
    """The real ports behind the ones the text names."""

    sink: int
    serve: int

    def swap(self, source: str) -> str:
        source = re.sub(r"\b1025\b", str(self.sink), source)
        return re.sub(r"\b8025\b", str(self.serve), source)


@dataclass
class Page:
    """One page's run: where its shell runs, and what ran."""

    path: Path
    folder: Path
    env: dict[str, str]
    ports: Ports
    ran: list[str] = field(default_factory=list)

    def python(self, example: Example) -> None:
        code = compile("\n" * example.line + self.ports.swap(str(example.parsed)), example.path,
                       "exec", dont_inherit=True)  # fmt: skip
        with contextlib.chdir(self.folder):  # files a page's shell wrote are where it says
            exec(code, example.namespace)
        self.ran.append(f"python:{example.line}")

    def console(self, example: Example) -> None:
        """A transcript: its `$ ` lines run as a shell block (their output is not compared)."""
        lines = str(example.parsed).splitlines()
        commands = "\n".join(line[2:] for line in lines if line.startswith("$ "))
        self.shell(example, commands, kind="console")

    def shell(self, example: Example, source: str | None = None, kind: str = "sh") -> None:
        source = str(example.parsed) if source is None else source
        script = CARRY.format(source=self.ports.swap(source))
        done = subprocess.run(
            ["bash", "-eu", "-o", "pipefail", "-c", script], cwd=self.folder, env=self.env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        where = f"{self.path.name}, line {example.line}: exit {done.returncode}"
        assert done.returncode == 0, f"{where}\n{done.stdout}\n{done.stderr}"
        self.ran.append(f"{kind}:{example.line}")


@dataclass
class Service:
    base_url: str
    database: str
    headers: dict[str, str]


@dataclass
class Sink:
    """A real `smtp-connector sink`; what it printed is in `log`."""

    port: int
    log: Path

    def received(self, recipient: str) -> bool:
        return f"--- message for {recipient} " in self.log.read_text()


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sink]:
    log = tmp_path_factory.mktemp("sink") / "sink.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [str(BIN / "smtp-connector"), "sink", "--port", "0"],
            stdout=output, stderr=subprocess.STDOUT, text=True, env=serve_env(),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (port := re.search(r"listening on 127\.0\.0\.1:(\d+) ", log.read_text())):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield Sink(int(port.group(1)), log)
    finally:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("serve")
    database = f"sqlite:///{folder / 'smtp-connector.db'}"
    headers = key_headers(database)  # migrates the database too
    served = start_serve(database, folder / "serve.log", env=serve_env())
    try:
        yield Service(served.base_url, database, headers)
    finally:
        served.stop()


def seed(page: Path, service: Service, sink: Sink, state: Path) -> None:
    """What the service walkthrough leaves in a reader's shell, for this page alone."""
    with httpx.Client(base_url=service.base_url, headers=service.headers, timeout=30) as client:
        app = client.post("/v1/apps", json={"name": f"docs-{page.stem}",
                                            "testEmail": "ops@shop.example.com",
                                            "fromEmail": "no-reply@shop.example.com"})  # fmt: skip
        assert app.status_code == 201, app.text
        server = client.post(f"/v1/apps/{app.json()['id']}/servers", json={
            "host": "127.0.0.1", "port": sink.port, "security": "none", "auth": False})  # fmt: skip
        assert server.status_code == 201, server.text
    key = service.headers["Authorization"].removeprefix("Bearer ")
    state.write_text(
        f"API={service.base_url}\nURL=$API\nKEY={key}\n"
        'H="Authorization: Bearer $KEY"; J="Content-Type: application/json"\n'
        "json_id() { python3 -c 'import json, sys; print(json.load(sys.stdin)[\"id\"])'; }\n"
        f"APP={app.json()['id']}\nID={server.json()['id']}\n"
    )


def sybil_for(page: Page) -> Sybil:
    return Sybil(parsers=[
        CodeBlockParser(language="python", evaluator=page.python),
        CodeBlockParser(language="sh", evaluator=page.shell),
        CodeBlockParser(language="console", evaluator=page.console),
        SkipParser(),
    ])  # fmt: skip


def counted_blocks(path: Path) -> list[str]:
    """Every fenced block in a language someone would run, as `language:line`."""
    document = Sybil(parsers=[]).parse(path)
    lexer = FencedCodeBlockLexer(COUNTED)
    text = document.text
    return [f"{region.lexemes['language']}:{text.count(chr(10), 0, region.start) + 1}"
            for region in lexer(document)]  # fmt: skip


def run_page(page: Page) -> list[tuple[int, str]]:
    """Run the page's examples in order; the skipped ones as (line, reason)."""
    skipped: list[tuple[int, str]] = []
    for example in sybil_for(page).parse(page.path):
        try:
            example.evaluate()
        except SkipTest as skip:
            skipped.append((example.line, str(skip)))
    return skipped


@pytest.mark.parametrize("path", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_example_runs_or_says_why_not(
    path: Path, sink: Sink, service: Service, tmp_path: Path
) -> None:
    state = tmp_path / ".state"
    seed(path, service, sink, state)
    env = serve_env(SMTP_CONNECTOR_DATABASE_URL=service.database)
    env["PATH"] = f"{BIN}:{env['PATH']}"
    env["__STATE"] = str(state)
    page = Page(path, tmp_path, env, Ports(sink.port, int(service.base_url.rsplit(":", 1)[1])))
    environ = dict(os.environ)  # a page may set a variable for its example
    try:
        skipped = run_page(page)
    finally:
        os.environ.clear()
        os.environ.update(environ)
    blocks = counted_blocks(path)
    print(f"{path.name}: {len(blocks)} blocks, {len(page.ran)} ran, {len(skipped)} skipped")
    assert all(reason.strip() for _, reason in skipped), skipped
    assert len(page.ran) + len(skipped) == len(blocks), (
        f"{path.name}: blocks {blocks}, ran {page.ran}, skipped {skipped}: a block in a "
        "runnable language was neither run nor skipped with a reason"
    )


def test_the_count_sees_a_block_left_out(tmp_path: Path) -> None:
    """A page with a `bash` block (no runner) and a reasonless skip fails the count."""
    page_path = tmp_path / "page.md"
    page_path.write_text(
        "```python\nx = 1\n```\n\n<!-- skip: next -->\n```sh\nexit 1\n```\n\n"
        "```bash\necho not run\n```\n\n```json\n{}\n```\n"
    )
    page = Page(page_path, tmp_path, {}, Ports(1, 1))
    skipped = run_page(page)
    assert page.ran == ["python:1"] and skipped == []
    assert counted_blocks(page_path) == ["python:1", "sh:6", "bash:10"]


def test_a_console_transcript_runs_its_commands(tmp_path: Path) -> None:
    """`$ ` lines run (a failing one fails the page), output lines are not commands, and what
    one block sets reaches the next."""
    page_path = tmp_path / "page.md"
    page_path.write_text(
        "```console\n$ NAME=ana\n$ echo $NAME > out.txt\nana\n```\n\n"
        '```sh\ntest "$(cat out.txt)" = "$NAME"\n```\n\n```console\n$ false\n```\n'
    )
    state = tmp_path / ".state"
    state.write_text("")
    page = Page(page_path, tmp_path, {**os.environ, "__STATE": str(state)}, Ports(1, 1))
    with pytest.raises(AssertionError, match=r"page\.md, line 11: exit 1"):
        run_page(page)
    assert page.ran == ["console:1", "sh:7"]


def test_quick_start_is_a_file_that_runs() -> None:
    """README's Quick start is a whole program (asyncio.run(main())), not top-level await."""
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert "asyncio.run(main())" in quick
    compile(quick, "quick start", "exec")  # top-level await would be a SyntaxError here


def slug(heading: str) -> str:
    """A heading's anchor, as MkDocs' toc extension and GitHub make it."""
    text = re.sub(r"[^\w\s-]", "", heading.replace("`", "")).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def test_readme_links_reach_a_page_and_heading() -> None:
    """`mkdocs build --strict` checks the links inside docs/; README.md sits outside the site,
    so its links into docs/ (and their #anchors) are checked here."""
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)(?:#([^)]+))?\)", readme)
    assert len(links) >= 12, links
    for target, anchor in links:
        page = ROOT / target
        assert page.is_file(), target
        if anchor:
            headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.MULTILINE)
            assert anchor in {slug(h) for h in headings}, f"{target}#{anchor}"


def test_the_fastapi_example_sends_through_uvicorn(sink: Sink, tmp_path: Path) -> None:
    """docs/examples/fastapi_app.py (library.md's complete app) on uvicorn with uvloop, as its
    docstring runs it: a POST makes it send a sign-in code, which the sink receives."""
    pytest.importorskip("uvicorn", reason="the example runs on uvicorn (the `server` extra)")
    config = tmp_path / "smtp.json"
    config.write_text(json.dumps({"host": "127.0.0.1", "port": sink.port,
                                  "fromEmail": "no-reply@acme.com"}))  # fmt: skip
    port = free_port()
    env = serve_env(SMTP_CONFIG=str(config), PYTHONPATH=str(ROOT / "docs" / "examples"))
    app = subprocess.Popen(
        [str(BIN / "uvicorn"), "fastapi_app:app", "--loop", "uvloop", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    try:
        answer = None
        deadline = time.monotonic() + 30
        while answer is None:
            assert app.poll() is None and time.monotonic() < deadline, "uvicorn did not start"
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/sign-in/code",
                                    json={"email": "dev@example.org", "locale": "de"})  # fmt: skip
            except httpx.TransportError:
                time.sleep(0.1)
        assert answer.status_code == 200, answer.text
        assert answer.json()["messageId"].endswith("@acme.com>")
        assert sink.received("dev@example.org")
    finally:
        app.terminate()
        app.wait(timeout=15)


def test_raw_html_in_the_pages_points_at_files_that_exist() -> None:
    """mkdocs checks Markdown links and images, not `<img src>`/`<a href>` written as HTML."""
    for page in PAGES:
        for target in re.findall(r'<(?:img|a)\s[^>]*(?:src|href)="([^"#:]+)', page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name}: {target}"
