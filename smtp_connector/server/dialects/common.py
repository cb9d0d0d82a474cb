"""What the dialect routers share: reading parameters the way admin consoles send them (query
string, JSON or form body), building the domain models with refusals that name the *dialect's*
fields, and the one "use TLS" switch most consoles have instead of our three security modes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import BaseModel, ValidationError

from smtp_connector.store import Definition, DefinitionCreate, DefinitionPatch

from ..errors import ApiFailure, Failure
from ..openapi import deferred

IMPLICIT_TLS_PORT = 465


def bad(message: str, status: int = 400) -> ApiFailure:
    """A refusal of the request's input (400 unless the dialect says otherwise)."""
    return ApiFailure(Failure(status, "invalid_request", message))


async def read_params(request: Request, secrets: frozenset[str]) -> dict[str, Any]:
    """Query string, then the JSON or form body on top. Secrets are refused in the URL: URLs
    end up in access logs and browser histories."""
    data: dict[str, Any] = dict(request.query_params)
    in_url = sorted(secrets & set(data))
    if in_url:
        raise bad(f"Send {', '.join(in_url)} in the body, not in the URL (URLs end up in logs).")
    raw = await request.body()
    if not raw.strip():
        return data
    if "application/x-www-form-urlencoded" in request.headers.get("content-type", ""):
        return data | dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad("The body is neither JSON nor a form.") from None
    if not isinstance(body, dict):
        raise bad("The JSON body must be an object of parameters.")
    return data | body


def field_errors(error: ValidationError, names: Mapping[str, str]) -> str:
    """ "`field`: reason" for each refused field, under the dialect's name; values never
    appear (one may be a password)."""
    parts = []
    for item in error.errors(include_input=False):
        loc = [str(part) for part in item["loc"] if part != "body"]
        name = names.get(loc[-1], loc[-1]) if loc else "body"
        parts.append(f"`{name}`: {item['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


P = TypeVar("P", bound=BaseModel)


def parse(model: type[P], data: Mapping[str, Any], status: int = 400) -> P:
    """Validate a dialect's own parameter model; refusals name its fields."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise bad("Invalid parameter " + field_errors(exc, {}), status) from None


D = TypeVar("D", DefinitionCreate, DefinitionPatch)


def domain_model(model: type[D], data: dict[str, Any], names: Mapping[str, str]) -> D:
    """Build the domain model from translated fields; a refusal names the dialect's field
    (`names` maps our snake_case names, and their camelCase aliases, to the dialect's)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise bad("Invalid parameter " + field_errors(exc, with_aliases(names))) from None


def with_aliases(names: Mapping[str, str]) -> dict[str, str]:
    """`names` plus the camelCase spelling of each of our names (errors and messages use it)."""
    camel = {_camel(ours): theirs for ours, theirs in names.items()}
    return camel | dict(names)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def rename_fields(message: str, names: Mapping[str, str]) -> str:
    """Our field names in a domain message (written `like_this` in backticks) replaced by the
    dialect's, so the caller is told which of *its* fields to change."""
    table = with_aliases(names)
    return re.sub(r"`([A-Za-z_]+)`", lambda m: f"`{table.get(m.group(1), m.group(1))}`", message)


def tls_security(use_tls: bool, port: int) -> str:
    """A console's single "use TLS/SSL" switch: implicit TLS on 465, else STARTTLS required;
    off means plain SMTP (for relays on a trusted network)."""
    if not use_tls:
        return "none"
    return "tls" if port == IMPLICIT_TLS_PORT else "starttls"


def switch_security(use_tls: bool | None, port: int, stored: Definition | None) -> str:
    """`tls_security` for an update: a body that leaves the switch out keeps the stored
    definition's choice (any TLS mode counts as on), so a port change alone re-derives
    implicit TLS or STARTTLS without turning TLS off."""
    if use_tls is None:
        use_tls = stored is not None and stored.security != "none"
    return tls_security(use_tls, port)


def body_doc(model: type[BaseModel], *, form: bool = True) -> dict[str, Any]:
    """OpenAPI for a body read by hand (JSON, or form too): documents the accepted names.
    Nested models are written in place: a `#/$defs/...` reference inside `paths` is not
    resolvable in the OpenAPI document (ReDoc stops rendering at it). The schema is generated
    when the document is first built, not when `serve` declares the route."""
    return deferred(lambda: _request_body(model, form))


def _request_body(model: type[BaseModel], form: bool) -> dict[str, Any]:
    schema = _inlined(model.model_json_schema())
    content = {"application/json": {"schema": schema}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": schema}
    return {"requestBody": {"content": content, "required": False}}


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its `$defs` references replaced by the definitions (bodies read by hand
    have no recursive models)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved
