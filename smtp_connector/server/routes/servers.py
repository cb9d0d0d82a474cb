"""`/v1/apps/{app_id}/servers`: server definitions, `check` (a real test mail to the app's
testEmail, which re-enables or disables the definition) and `test` (a test mail to any address,
which changes nothing: the admin page's "Send test email")."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from smtp_connector.store import Definition, DefinitionCreate, DefinitionPatch
from smtp_connector.store.pages import DEFAULT_LIMIT

from ..deps import Reader, Sender, ServiceDep, Writer
from ..errors import NATIVE_ERRORS, ErrorDetail, connector_failure
from .paging import LINKED, Cursor, Limit, link_next

router = APIRouter(prefix="/v1/apps/{app_id}/servers", tags=["servers"], responses=NATIVE_ERRORS)


class CheckResponse(BaseModel):
    """`ok` with the re-activated definition, or the connector's error and the disabled one."""

    ok: bool
    definition: Definition
    messageId: str | None = None
    error: ErrorDetail | None = None


class TestEmail(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=3, max_length=320, description="the recipient of the test mail")


class TestEmailResult(BaseModel):
    """The SMTP server's acceptance; a failure is the usual error body (4xx/502/504)."""

    ok: bool
    to: str
    messageId: str
    server: str
    response: str


@router.get("", response_model=list[Definition], responses=LINKED)
async def list_servers(
    app_id: str, request: Request, response: Response, actor: Reader, service: ServiceDep,
    limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None,
) -> list[Definition]:  # fmt: skip
    """In the order sends try them; more than `limit`: see the `Link` header."""
    page = await service.definitions.page(actor, app_id, limit, cursor)
    link_next(request, response, page, limit)
    return page.items


@router.post("", status_code=201, response_model=Definition)
async def create_server(
    app_id: str, body: DefinitionCreate, actor: Writer, service: ServiceDep
) -> Definition:
    return await service.definitions.create(actor, app_id, body)


@router.get("/{server_id}", response_model=Definition)
async def get_server(app_id: str, server_id: str, actor: Reader, service: ServiceDep) -> Definition:
    return await service.definitions.get(actor, app_id, server_id)


@router.patch("/{server_id}", response_model=Definition)
async def update_server(
    app_id: str, server_id: str, body: DefinitionPatch, actor: Writer, service: ServiceDep
) -> Definition:
    return await service.definitions.update(actor, app_id, server_id, body)


@router.delete("/{server_id}", status_code=204, response_class=Response)
async def delete_server(
    app_id: str, server_id: str, actor: Writer, service: ServiceDep
) -> Response:
    await service.definitions.delete(actor, app_id, server_id)
    return Response(status_code=204)


@router.post(
    "/{server_id}/check",
    response_model=CheckResponse,
    responses={406: {"model": CheckResponse, "description": "the test mail failed"}},
)
async def check_server(app_id: str, server_id: str, actor: Writer, service: ServiceDep) -> Any:
    outcome = await service.checks.check(actor, app_id, server_id)
    if outcome.ok:
        message_id = outcome.result.message_id if outcome.result else None
        return CheckResponse(ok=True, definition=outcome.definition, messageId=message_id)
    assert outcome.error is not None
    failure = connector_failure(outcome.error)
    body = CheckResponse(
        ok=False,
        definition=outcome.definition,
        error=ErrorDetail(**failure.body()["error"]),
    )
    return JSONResponse(body.model_dump(mode="json"), status_code=406)


@router.post(
    "/{server_id}/test",
    response_model=TestEmailResult,
    responses={
        502: NATIVE_ERRORS[400] | {"description": "the SMTP server refused or failed"},
        504: NATIVE_ERRORS[400] | {"description": "the SMTP server did not answer in time"},
    },
)
async def test_server(
    app_id: str, server_id: str, body: TestEmail, actor: Sender, service: ServiceDep
) -> TestEmailResult:
    """Send the Generic test message (code 000000) through this one definition to `to`."""
    result = await service.checks.test_stored(actor, app_id, server_id, body.to)
    return TestEmailResult(
        ok=True, to=body.to, messageId=result.message_id, server=result.server,
        response=result.response,
    )  # fmt: skip
