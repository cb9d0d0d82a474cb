"""`smtp-connector send --bulk FILE.csv`: one message per CSV row.

The file starts with a header row naming its columns: `to` (required), then any of `usage`,
`code`, `locale`, `link`, in any order. Row numbers in every report are the file's line
numbers (the header is row 1), what an editor or spreadsheet shows, and every error names the
row's address too, so a failed row can be found and fixed without counting.
"""

from __future__ import annotations

import asyncio
import csv
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..config import SmtpConfig
from ..connector import SendRequest
from ..errors import ConnectorError, ErrorCode
from ..results import SendResult
from .app import EXIT_DELIVERY, build_connector, echo_json

COLUMNS = ("to", "usage", "code", "locale", "link")
HEADER_HELP = "to,usage,code,locale,link (only `to` is required; any order)"


@dataclass
class BulkRow:
    """One data row: where it is in the file and what to send."""

    row: int
    request: SendRequest

    @property
    def to(self) -> str:
        return str(self.request.to)


def random_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def read_bulk(path: Path, usage: str) -> list[BulkRow]:
    """Parse the CSV (UTF-8, a BOM from Excel is fine); header problems are `invalid_config`."""
    with path.open(newline="", encoding="utf-8-sig") as file:
        lines = list(_records(csv.reader(file)))
    if not lines:
        raise _file_error(path, f"is empty; it needs a header row: {HEADER_HELP}")
    _, header = lines[0]
    columns = [name.strip().lower() for name in header]
    _check_header(path, columns)
    rows = []
    for row_number, values in lines[1:]:
        if not any(value.strip() for value in values):
            continue  # a blank line, e.g. at the end of the file
        if len(values) > len(columns):
            raise _file_error(
                path, f"row {row_number} has {len(values)} values but the header {len(columns)}"
            )
        fields = {name: value.strip() for name, value in zip(columns, values, strict=False)}
        rows.append(BulkRow(row_number, _request(fields, usage)))
    return rows


def _records(reader: Any) -> Iterator[tuple[int, list[str]]]:
    """(line the record starts on, values); quoted values may span lines."""
    start = 1
    for values in reader:
        yield start, values
        start = reader.line_num + 1


def _check_header(path: Path, columns: list[str]) -> None:
    if "to" not in columns:
        first = ",".join(columns)
        if "@" in first:
            raise _file_error(
                path, f"the first row must be the header ({HEADER_HELP}); found {first!r}"
            )
        raise _file_error(path, f"the header row has no `to` column ({HEADER_HELP})")
    unknown = [name for name in columns if name not in COLUMNS]
    if unknown:
        raise _file_error(
            path, f"unknown column(s) {', '.join(map(repr, unknown))}; known: {HEADER_HELP}"
        )


def _request(fields: dict[str, str], usage: str) -> SendRequest:
    payload: dict[str, Any] = {"code": fields.get("code") or random_code()}
    if fields.get("link"):
        payload["link"] = fields["link"]
    return SendRequest(
        to=fields.get("to", ""),
        usage_type=fields.get("usage") or usage,
        payload=payload,
        locale=fields.get("locale") or None,
    )


def _file_error(path: Path, problem: str) -> ConnectorError:
    return ConnectorError(ErrorCode.INVALID_CONFIG, f"{path}: {problem}")


def send_bulk(config: SmtpConfig, path: Path, usage: str, concurrency: int, as_json: bool) -> None:
    """Send every row, then report; exit 1 if any row failed."""
    rows = read_bulk(path, usage)
    started = time.perf_counter()

    async def run() -> list[SendResult | ConnectorError]:
        async with build_connector(config) as connector:
            with click.progressbar(
                length=len(rows), label="sending", file=sys.stderr, show_pos=True
            ) as bar:
                return await connector.send_many(
                    [row.request for row in rows],
                    concurrency=concurrency,
                    on_progress=lambda _n, _r: bar.update(1),
                )

    outcomes = asyncio.run(run())
    pairs = list(zip(rows, outcomes, strict=True))
    failed = [(row, o) for row, o in pairs if isinstance(o, ConnectorError)]
    elapsed = time.perf_counter() - started
    if as_json:
        echo_json(
            {
                "ok": not failed,
                "sent": len(outcomes) - len(failed),
                "failed": len(failed),
                "seconds": round(elapsed, 3),
                "results": [_json_row(row, outcome) for row, outcome in pairs],
            }
        )
    else:
        click.echo(f"sent {len(outcomes) - len(failed)}/{len(outcomes)} in {elapsed:.2f}s")
        for row, error in failed:
            click.secho(f"  row {row.row} ({row.to or 'no address'}): {error}", fg="red", err=True)
    if failed:
        sys.exit(EXIT_DELIVERY)


def _json_row(row: BulkRow, outcome: SendResult | ConnectorError) -> dict[str, Any]:
    """Like `send --json` (`ok` + `result` or `error`), plus the row number and address."""
    if isinstance(outcome, ConnectorError):
        return {"row": row.row, "to": row.to, "ok": False, "error": outcome.to_dict()}
    return {"row": row.row, "to": row.to, "ok": True, "result": outcome.to_dict()}
