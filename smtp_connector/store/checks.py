"""Check a stored definition, or test-send an unsaved one, with a real message.

`check` mails the app's `testEmail` through one stored definition: success re-activates it,
failure disables it, counts `numErrors` and keeps the connector's error (code, message, SMTP
code) as `lastError`. `test_send` tries settings that are not saved yet (privacyIDEA's "send
test email" button); given `"__CENSORED__"` it may use the stored secret only when everything
that decides where the password goes and how it is protected is as stored (protection.py), so
the button cannot send a stored password to a server, or over a link, of the caller's choosing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from smtp_connector.errors import ConnectorError, ErrorCode
from smtp_connector.results import SendResult

from . import audit
from .apps import load_app
from .configs import AppSender, build_connector
from .database import Database
from .definitions import (
    apply_patch,
    bump_version,
    check_smime_input,
    definition_by_name,
    definition_view,
    row_snapshot,
)
from .domain import CENSORED, DEFINITION_DEFAULTS, Actor, Definition, DefinitionCreate
from .errors import DEFINITION, invalid, not_found
from .hints import error_fields
from .policy import ServicePolicy
from .protection import refuse_secret_travel, transport_of
from .secrets import SecretBox
from .tables import DefinitionRow, utcnow

if TYPE_CHECKING:  # the connector (Jinja, the SMTP client) loads with the first check, not at start
    from smtp_connector import SmtpConnector

ONE_TRY = {"attempts": 1}
OnChange = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class TestMessage:
    """What a dialect's test send says instead of the Generic test mail (privacyIDEA sends a
    plain-text "Test Email from privacyIDEA"): a plain-text template and its values. Values
    go through the payload, never into the template text, so a name cannot inject markup."""

    __test__ = False  # not a pytest class

    subject: str
    text: str
    payload: dict[str, Any]

    USAGE = "ConnectionTest"

    def template(self) -> dict[str, Any]:
        return {"usageType": self.USAGE, "contentType": "text/plain", "subject": self.subject,
                "content": self.text}  # fmt: skip


@dataclass
class CheckOutcome:
    ok: bool
    definition: Definition
    result: SendResult | None = None
    error: ConnectorError | None = None


def error_record(error: ConnectorError) -> dict[str, Any]:
    """What `lastError` keeps: the native API's error fields (hints.py) and when it happened."""
    return {**error_fields(error), "at": utcnow().astimezone(UTC).isoformat()}


async def send_once(
    rows: list[DefinitionRow],
    box: SecretBox,
    policy: ServicePolicy,
    to: str,
    message: TestMessage | None = None,
    app: AppSender | None = None,
) -> SendResult:
    """One test message through a throwaway connector (one try, no pooling left behind), with
    the app's sender where the definition has none."""
    templates = [message.template()] if message is not None else None
    connector = _test_connector(rows, box, policy, templates, app)
    async with connector:
        if message is None:
            return await connector.send_test(to)
        return await connector.send(to, TestMessage.USAGE, message.payload)


def _test_connector(
    rows: list[DefinitionRow],
    box: SecretBox,
    policy: ServicePolicy,
    templates: list[dict[str, Any]] | None,
    app: AppSender | None,
) -> SmtpConnector:
    """The test's connector. When its S/MIME material cannot be used and the definition says
    "don't send on error", that is the outcome of the test (signing_failed: nothing sent),
    as privacyIDEA reports it, not a refusal of the request."""
    try:
        return build_connector(rows, box, policy, retry=ONE_TRY, templates=templates, app=app)
    except ConnectorError as error:
        primary = rows[0]
        if not (primary.smime and primary.smime_dont_send_on_error):
            raise
        unsigned = DefinitionRow(**(row_snapshot(primary) | {"smime": False}))
        try:
            build_connector([unsigned], box, policy, templates=templates, app=app)
        except ConnectorError:
            raise error from None  # not (only) the S/MIME material
        raise ConnectorError(
            ErrorCode.SIGNING_FAILED,
            f"The S/MIME material cannot be used, so nothing was sent (`dontSendOnError`): "
            f"{error.message}",
            retryable=False,
        ) from None


class CheckService:
    def __init__(
        self, database: Database, box: SecretBox, on_change: OnChange, policy: ServicePolicy
    ) -> None:
        self._db = database
        self._box = box
        self._on_change = on_change
        self._policy = policy

    async def check(self, actor: Actor, app_id: str, definition_id: str) -> CheckOutcome:
        async with self._db.transaction() as session:
            app = await load_app(session, actor, app_id)
            row = await session.get(DefinitionRow, definition_id)
            if row is None or row.app_id != app_id:
                raise not_found(DEFINITION, definition_id)
            if not app.test_email:
                raise invalid(
                    f"App {app_id!r} has no testEmail: set it (PATCH /v1/apps/{app_id}) so "
                    "check has an address to send the test message to."
                )
            test_email = app.test_email
            sender = AppSender.of(app)
        result: SendResult | None = None
        error: ConnectorError | None = None
        try:
            result = await send_once([row], self._box, self._policy, test_email, app=sender)
        except ConnectorError as exc:
            error = exc
        view = await self._record(actor, app_id, definition_id, error)
        return CheckOutcome(ok=error is None, definition=view, result=result, error=error)

    async def _record(
        self, actor: Actor, app_id: str, definition_id: str, error: ConnectorError | None
    ) -> Definition:
        async with self._db.transaction() as session:
            app = await load_app(session, actor, app_id)
            row = await session.get(DefinitionRow, definition_id)
            if row is None:  # deleted while the check ran
                raise not_found(DEFINITION, definition_id)
            if error is None:
                row.status = "active"
            else:
                row.status = "disabled"
                row.num_errors += 1
                row.last_error = error_record(error)
            row.modified = utcnow()
            await bump_version(session, app)
            audit.record(
                session, actor, "definition.check", app_id=app_id, target=definition_id,
                success=error is None, code=error.code.value if error else None,
            )  # fmt: skip
            view = definition_view(row)
        await self._on_change(app_id)
        return view

    async def test_stored(
        self, actor: Actor, app_id: str, definition_id: str, recipient: str
    ) -> SendResult:
        """Send a test message through one stored definition to `recipient` (the admin page's
        "Send test email"): unlike `check` it leaves status and numErrors alone, since the
        address is the caller's choice and a typo in it says nothing about the server."""
        async with self._db.transaction() as session:
            sender = AppSender.of(await load_app(session, actor, app_id))
            row = await session.get(DefinitionRow, definition_id)
            if row is None or row.app_id != app_id:
                raise not_found("Server definition", definition_id)
        send = send_once([row], self._box, self._policy, recipient, app=sender)
        return await self._audited(actor, app_id, definition_id, row, send)

    async def test_send(
        self,
        actor: Actor,
        app_id: str,
        candidate: DefinitionCreate,
        recipient: str,
        *,
        stored_id: str | None = None,
        stored_name: str | None = None,
        message: TestMessage | None = None,
    ) -> SendResult:
        """Send a test message with unsaved settings (`message`, or the Generic test mail);
        raises ConnectorError on failure."""
        check_smime_input(candidate.smime, actor, self._policy)
        await self._policy.network.check_host(candidate.host)
        async with self._db.transaction() as session:
            sender = AppSender.of(await load_app(session, actor, app_id))
            stored = await _stored(session, app_id, stored_id, stored_name)
        row = self._candidate_row(app_id, candidate, stored)
        send = send_once([row], self._box, self._policy, recipient, message, sender)
        return await self._audited(actor, app_id, stored.id if stored else None, row, send)

    async def _audited(
        self,
        actor: Actor,
        app_id: str,
        target: str | None,
        row: DefinitionRow,
        send: Awaitable[SendResult],
    ) -> SendResult:
        """Await a test send and audit it either way (with the error's code on failure): a
        test send is how a stolen key would probe servers, so every try leaves a trace."""
        success = False
        code: str | None = None
        try:
            result = await send
            success = True
            return result
        except ConnectorError as error:
            code = error.code.value
            raise
        finally:
            async with self._db.transaction() as session:
                audit.record(
                    session, actor, "definition.test_send", app_id=app_id, target=target,
                    success=success, code=code, server=f"{row.host}:{row.port}",
                )  # fmt: skip

    def _candidate_row(
        self, app_id: str, candidate: DefinitionCreate, stored: DefinitionRow | None
    ) -> DefinitionRow:
        row = DefinitionRow(app_id=app_id, **DEFINITION_DEFAULTS, num_errors=0)
        row.smime, row.smime_dont_send_on_error = False, True
        reuse = _wants_stored_secret(candidate)
        if reuse:
            if stored is None:
                raise invalid(
                    "`__CENSORED__` stands for a stored secret, but no stored definition was "
                    "named: send the password itself."
                )
            row.password_enc = stored.password_enc
            row.smime_private_key_enc = stored.smime_private_key_enc
            row.smime_private_key_path = stored.smime_private_key_path
            row.smime_key_password_enc = stored.smime_key_password_enc
        apply_patch(self._box, row, candidate)
        if reuse and stored is not None:
            refuse_secret_travel(
                transport_of(stored),
                row,
                new_password=candidate.password not in (None, CENSORED),
                test=True,
            )
        return row


def _wants_stored_secret(candidate: DefinitionCreate) -> bool:
    smime = candidate.smime
    secrets = [candidate.password]
    if smime is not None:
        secrets += [smime.private_key, smime.private_key_password]
    return CENSORED in secrets


async def _stored(
    session: AsyncSession, app_id: str, stored_id: str | None, stored_name: str | None
) -> DefinitionRow | None:
    if stored_id is not None:
        row = await session.get(DefinitionRow, stored_id)
        return row if row is not None and row.app_id == app_id else None
    if stored_name is not None:
        return await definition_by_name(session, app_id, stored_name)
    return None
