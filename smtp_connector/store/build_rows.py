"""What a connector rebuild reads: the app and its active definitions, in one Core query.

A send after a definition change rebuilds the app's connector. The build itself runs in the
build threads (connectors.py), but its reads ran on the event loop as three ORM queries (the
app, its definitions, its templates) through a session: about 2 ms of loop CPU per rebuild,
spent in ORM instances, identity map and attribute events, while every other app's sends
waited their turn at the loop (benchmarks/tenant_builds.py rebuilds 8 apps at once). Here it
is one `SELECT` of the app's few columns joined to the columns of its active definitions that
a connector is built from, as plain rows (about a tenth of that CPU); the rows become
`ServerRow`s in the build thread, and a rebuild keeps the app's template snapshot from the
connector it replaces (template_chain.refresh brings it up to date before anything renders).

One statement is one snapshot on both engines: the version read is the one the definitions
belong to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.engine import Row

from .configs import AppSender
from .database import Database
from .pages import definitions_order
from .schema import apps, server_definitions


@dataclass(frozen=True, slots=True)
class ServerRow:
    """One active definition as a connector is built from it (configs.DefinitionFields):
    the columns of `schema.server_definitions` a build reads, nothing of its bookkeeping. The
    secret columns (Fernet tokens) stay out of its repr, as they stay out of every log line."""

    id: str
    name: str | None
    host: str
    port: int
    security: str
    auth: bool
    ntlm: bool
    username: str | None
    password_enc: str | None = field(repr=False)
    priority: int
    from_email: str | None
    from_name: str | None
    timeout: int
    enqueue: bool
    allow_special_use_domains: bool
    tls_ca: str | None
    verify_certificate: bool
    smime: bool
    smime_certificate: str | None
    smime_private_key_enc: str | None = field(repr=False)
    smime_private_key_path: str | None
    smime_key_password_enc: str | None = field(repr=False)
    smime_dont_send_on_error: bool


_APP = apps.c
_DEF = server_definitions.c
_APP_COLUMNS = (_APP.definitions_version, _APP.from_email, _APP.from_name, _APP.default_locale)
SERVER_COLUMNS = tuple(_DEF[name] for name in ServerRow.__dataclass_fields__)
# The app with each of its active definitions in send order (none: one row of NULLs), built once.
_READ = definitions_order(
    select(*_APP_COLUMNS, *SERVER_COLUMNS)
    .select_from(
        apps.outerjoin(server_definitions, and_(_DEF.app_id == _APP.id, _DEF.status == "active"))
    )
    .where(_APP.id == bindparam("app"))
)
_SKIP = len(_APP_COLUMNS)


@dataclass(frozen=True)
class BuildRead:
    """What one read returned: the app's `definitions_version`, its sender, and its active
    definitions' rows as the driver gave them (`servers` turns them into `ServerRow`s)."""

    version: int
    sender: AppSender
    raw: Sequence[Row[Any]]

    def servers(self) -> list[ServerRow]:
        """The definitions in send order (call it in the build thread: it allocates a row
        object per definition)."""
        return [ServerRow(*row[_SKIP:]) for row in self.raw]


async def read_for_build(database: Database, app_id: str) -> BuildRead | None:
    """The app and its active definitions as they are now (None: no such app)."""
    async with database.engine.connect() as connection:
        rows = (await connection.execute(_READ, {"app": app_id})).all()
    if not rows:
        return None
    first = rows[0]  # by position: the app's and a definition's columns share names
    sender = AppSender(first[1], first[2], first[3])
    active = rows if first[_SKIP] is not None else []  # the join found no active definition
    return BuildRead(first[0], sender, active)
