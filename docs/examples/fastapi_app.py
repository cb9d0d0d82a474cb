"""A FastAPI app that sends sign-in codes: one connector for the app's lifetime.

Run it on uvicorn; with `uvicorn[standard]` installed uvicorn picks uvloop, and the connector
works on it as on asyncio's own loop:

    SMTP_CONFIG=smtp.json uvicorn fastapi_app:app --loop uvloop
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

from smtp_connector import ConnectorError, SmtpConfig, SmtpConnector, UsageType


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Built once at start-up: a broken template or key fails here, not on the first request.
    config = SmtpConfig.from_file(os.environ.get("SMTP_CONFIG", "smtp.json"))
    async with SmtpConnector(config) as connector:  # pooled connections, closed on shutdown
        app.state.mailer = connector
        yield


app = FastAPI(lifespan=lifespan)


class CodeRequest(BaseModel):
    email: str
    locale: str | None = None


@app.post("/sign-in/code")
async def send_sign_in_code(request: CodeRequest) -> dict[str, str]:
    code = f"{secrets.randbelow(10**6):06d}"  # store it with an expiry in your own session table
    try:
        result = await app.state.mailer.send(
            request.email, UsageType.SIGN_IN, {"code": code}, locale=request.locale
        )
    except ConnectorError as error:
        status = 503 if error.retryable else 400  # transient: let the client retry
        raise HTTPException(
            status, detail={"code": error.code.value, "message": error.message}
        ) from error
    return {"messageId": result.message_id}
