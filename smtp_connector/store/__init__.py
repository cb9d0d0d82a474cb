"""The store: apps, server definitions, API keys and the audit log, with secrets encrypted at
rest, behind one domain layer (`Service`) that owns every rule. No HTTP in here.
Imports the library only through its public names (and errors); never server, queue or cli.

    service = await Service.open("sqlite:///./smtp-connector.db")
    app = await service.apps.create(actor, AppCreate(name="shop"))
    await service.definitions.create(actor, app.id, DefinitionCreate(host="smtp.example.com"))
    outcome = await service.messages.send(actor, app.id, MessageRequest(to="a@example.org"))
"""

from typing import TYPE_CHECKING

from smtp_connector.lazy import lazy_names

from .domain import (
    CENSORED,
    CLI_ACTOR,
    READ_SCOPE,
    SCOPES,
    SEND_SCOPE,
    WRITE_SCOPE,
    Actor,
    ApiKeyInfo,
    App,
    AppCreate,
    AppPatch,
    AuditEntry,
    Definition,
    DefinitionCreate,
    DefinitionPatch,
    MessageRequest,
    SmimeInput,
)
from .errors import APP, DEFINITION, ServiceError
from .sending import DirectSender, MessageStatus, Sender, SendJob, SendOutcome
from .service import Service
from .urls import DEFAULT_DATABASE_URL

if TYPE_CHECKING:
    from .checks import TestMessage

# `TestMessage` lives with the checks, which an idle `serve` does not import (service.py).
__getattr__, __dir__ = lazy_names(__name__, {"TestMessage": ".checks"})

__all__ = [
    "APP",
    "CENSORED",
    "CLI_ACTOR",
    "DEFAULT_DATABASE_URL",
    "DEFINITION",
    "READ_SCOPE",
    "SCOPES",
    "SEND_SCOPE",
    "WRITE_SCOPE",
    "Actor",
    "ApiKeyInfo",
    "App",
    "AppCreate",
    "AppPatch",
    "AuditEntry",
    "Definition",
    "DefinitionCreate",
    "DefinitionPatch",
    "DirectSender",
    "MessageRequest",
    "MessageStatus",
    "SendJob",
    "SendOutcome",
    "Sender",
    "Service",
    "ServiceError",
    "SmimeInput",
    "TestMessage",
]
