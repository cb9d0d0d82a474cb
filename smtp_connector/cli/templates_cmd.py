"""`smtp-connector templates export|import --app ID DIR`: an app's stored templates as files,
so they can live in a repository and be reviewed like code.

Layout: one file per usage type and language tag, `DIR/<usageType>/<languageTag>.json`, holding
Logto's template details (`subject`, `content`, `contentType`, `replyTo`, `sendFrom`, and our
`textContent`): the same object Logto's `PUT /api/email-templates` takes as `details`. Export
writes them with a fixed key order and indentation, so an unchanged template is an unchanged
file. Import checks every file with the store's own checks first (key, size, syntax, sandbox
bounds, addresses) and stores nothing when one fails, naming each failing file; then it saves
them all (each save a new version in the template's history).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import ConnectorError, ErrorCode
from .app import EXIT_TEMPLATE, echo_json, error_code, handles_errors, json_option, main
from .store_common import database_url_option, need_server_extra, run_with_service

if TYPE_CHECKING:
    from ..store import Service
    from ..store.template_models import TemplateInput, TemplateView

FILE_KEYS = ("subject", "content", "contentType", "replyTo", "sendFrom", "textContent")
MAX_FILE_BYTES = 1 << 24  # far above any template cap: the store's cap names the real limit


@main.group()
@handles_errors
def templates() -> None:
    """Export and import an app's stored templates (DIR/<usageType>/<languageTag>.json)."""
    need_server_extra()


app_option = click.option("--app", "app", required=True, help="The app (id or name).")
directory_argument = click.argument("directory", type=click.Path(file_okay=False, path_type=Path))


@templates.command("export")
@app_option
@directory_argument
@database_url_option
@json_option
@handles_errors
def export(app: str, directory: Path, database_url: str | None, as_json: bool) -> None:
    """Write every template of the app to DIR, one file per usage type and language tag."""

    async def action(service: Service) -> tuple[str, list[TemplateView]]:
        app_id = await resolve_app(service, app)
        return app_id, await all_templates(service, app_id)

    app_id, views = run_with_service(database_url, action)
    written = [write_template(directory, view) for view in views]
    if as_json:
        echo_json({"ok": True, "app": app_id, "directory": str(directory),
                   "files": [str(path.relative_to(directory)) for path in written]})  # fmt: skip
        return
    click.echo(f"Exported {len(written)} template(s) of app {app_id} to {directory}")
    for path in written:
        click.echo(f"  {path.relative_to(directory)}")


@templates.command("import")
@app_option
@directory_argument
@database_url_option
@json_option
@handles_errors
def import_(app: str, directory: Path, database_url: str | None, as_json: bool) -> None:
    """Check every DIR/<usageType>/<languageTag>.json with the store's checks, then save them
    all into the app (nothing is saved when a file is refused; each refusal is listed)."""
    files = template_files(directory)
    outcome = run_with_service(database_url, lambda service: import_files(service, app, files))
    report_import(outcome, directory, as_json)
    if outcome.errors:
        raise SystemExit(EXIT_TEMPLATE)


@dataclass
class ImportOutcome:
    app_id: str = ""
    saved: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


async def resolve_app(service: Service, app: str) -> str:
    """The app's id, from its id or its name (as `keys create --app` takes it)."""
    from ..store import CLI_ACTOR

    try:
        return (await service.apps.get(CLI_ACTOR, app)).id
    except ConnectorError as error:
        if getattr(error, "reason", None) != "not_found":
            raise
    found = await service.apps.find_by_name(CLI_ACTOR, app)
    if found is None:
        from ..store.errors import not_found

        raise not_found("App", app)
    return found.id


async def all_templates(service: Service, app_id: str) -> list[TemplateView]:
    from ..store import CLI_ACTOR

    views: list[TemplateView] = []
    cursor: str | None = None
    while True:
        page = await service.templates.page(CLI_ACTOR, app_id, limit=100, cursor=cursor)
        views.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return views


def file_content(view: TemplateView) -> dict[str, str]:
    values = {"subject": view.subject, "content": view.content,
              "contentType": view.content_type, "replyTo": view.reply_to,
              "sendFrom": view.send_from, "textContent": view.text}  # fmt: skip
    return {key: value for key in FILE_KEYS if (value := values[key])}


def write_template(directory: Path, view: TemplateView) -> Path:
    path = directory / view.usage_type / f"{view.locale}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(file_content(view), indent=2, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def template_files(directory: Path) -> list[Path]:
    """The layout's files (`*/*.json`); a missing directory is a usage error (exit 2)."""
    if not directory.is_dir():
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, f"No directory {str(directory)!r} to import."
        )
    return sorted(directory.glob("*/*.json"))


async def import_files(service: Service, app: str, files: list[Path]) -> ImportOutcome:
    """Check every file (to name each refused one), then store them all in one change: a
    repository's templates land together or not at all."""
    from ..store import CLI_ACTOR

    outcome = ImportOutcome(app_id=await resolve_app(service, app))
    batch: list[tuple[str, str, TemplateInput]] = []
    for path in files:
        try:
            batch.append(await check_file(service, outcome.app_id, path))
        except ConnectorError as error:
            outcome.errors.append(_refusal(_name(path), error))
    if outcome.errors:
        return outcome
    try:
        saved_all = await service.templates.put_many(CLI_ACTOR, outcome.app_id, batch)
    except ConnectorError as error:  # what only the whole batch meets: the app's cap
        outcome.errors.append(_refusal("(all files)", error))
        return outcome
    for path, (usage, locale, _), saved in zip(files, batch, saved_all, strict=True):
        view = saved.template
        outcome.saved.append({"file": _name(path), "usage_type": usage, "locale": locale,
                              "version": view.version, "created": saved.created,
                              "warnings": view.warnings})  # fmt: skip
    return outcome


async def check_file(service: Service, app_id: str, path: Path) -> tuple[str, str, TemplateInput]:
    """The file through the store's checks for one template (nothing stored): its usage type
    and tag from its path, then what a save checks."""
    from ..store.template_models import check_input, check_key

    usage, locale = check_key(path.parent.name, path.stem)
    data = read_file(path)
    check_input(data, service.templates.limits)
    await service.template_render.check(app_id, usage, locale, data)
    return usage, locale, data


def _refusal(where: str, error: ConnectorError) -> dict[str, str]:
    code = getattr(error, "label", None) or error_code(error)
    return {"file": where, "code": code, "message": error.message}


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def read_file(path: Path) -> TemplateInput:
    """The file as the store's template input (its checks come with the batch's)."""
    from pydantic import ValidationError

    from ..store.template_models import TemplateInput

    if path.stat().st_size > MAX_FILE_BYTES:
        raise ConnectorError(ErrorCode.TEMPLATE_ERROR, f"{_name(path)} is too large to read.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConnectorError(ErrorCode.TEMPLATE_ERROR, f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConnectorError(ErrorCode.TEMPLATE_ERROR, "a template file is a JSON object.")
    for key, value in data.items():
        if isinstance(value, str) and "\x00" in value:  # what the HTTP edge refuses too
            message = f"`{key}` contains a NUL character (U+0000); remove it."
            raise ConnectorError(ErrorCode.TEMPLATE_ERROR, message)
    try:
        return TemplateInput.model_validate(data)
    except ValidationError as exc:
        raise ConnectorError(ErrorCode.TEMPLATE_ERROR, refused_fields(exc)) from None


def refused_fields(error: Any) -> str:
    """ "`field`: reason" per refused key of a file (values never shown)."""
    parts = []
    for item in error.errors(include_input=False):
        name = ".".join(str(part) for part in item["loc"]) or "file"
        parts.append(f"`{name}`: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


def report_import(outcome: ImportOutcome, directory: Path, as_json: bool) -> None:
    if as_json:
        echo_json({"ok": not outcome.errors, "app": outcome.app_id, "directory": str(directory),
                   "imported": outcome.saved, "errors": outcome.errors})  # fmt: skip
        return
    for error in outcome.errors:
        click.secho(f"error: {error['file']}: [{error['code']}] {error['message']}",
                    fg="red", err=True)  # fmt: skip
    if outcome.errors:
        click.echo(f"Nothing imported: {len(outcome.errors)} file(s) refused.", err=True)
        return
    click.echo(f"Imported {len(outcome.saved)} template(s) into app {outcome.app_id}")
    for saved in outcome.saved:
        state = "created" if saved["created"] else f"version {saved['version']}"
        click.echo(f"  {saved['file']} ({state})")
        for warning in saved["warnings"]:
            click.secho(f"warning: {saved['file']}: {warning}", fg="yellow", err=True)
