"""Each real failure carries its stable `cause` (issue 23, item 2) and a `reason` without
advice: the facts a caller needs to write its own message, in the terms of its own interface."""

from __future__ import annotations

import pytest
import trustme
from failure_cases import CASES, Case, error_of
from smtp_servers import PASSWORD, MakeServer

from smtp_connector import ErrorCode
from smtp_connector.errors import Cause

pytestmark = pytest.mark.asyncio

CODES = {
    Cause.CERTIFICATE_UNTRUSTED: ErrorCode.TLS_FAILED,
    Cause.CERTIFICATE_EXPIRED: ErrorCode.TLS_FAILED,
    Cause.HOSTNAME_MISMATCH: ErrorCode.TLS_FAILED,
    Cause.TLS_PORT_MISMATCH: ErrorCode.TLS_FAILED,
    Cause.IMPLICIT_TLS_REQUIRED: ErrorCode.TLS_FAILED,
    Cause.STARTTLS_MISSING: ErrorCode.TLS_FAILED,
    Cause.AUTH_NOT_OFFERED: ErrorCode.AUTH_FAILED,
    Cause.AUTH_REFUSED: ErrorCode.AUTH_FAILED,
    Cause.GREETING_TIMEOUT: ErrorCode.TIMEOUT,
    Cause.NOT_SMTP: ErrorCode.CONNECTION_FAILED,
    Cause.DNS_FAILURE: ErrorCode.CONNECTION_FAILED,
    Cause.CONNECTION_REFUSED: ErrorCode.CONNECTION_FAILED,
    Cause.SENDER_REFUSED: ErrorCode.SENDER_REJECTED,
    Cause.RECIPIENT_REFUSED: ErrorCode.RECIPIENT_REJECTED,
}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.cause.value)
async def test_each_failure_has_its_cause(
    case: Case, make_server: MakeServer, tls_ca: trustme.CA
) -> None:
    error = await error_of(case, make_server, tls_ca)
    assert (error.code, error.cause) == (CODES[case.cause], case.cause), error
    assert error.to_dict()["cause"] == case.cause.value
    assert error.reason and "`" not in error.reason  # facts, no config advice
    assert PASSWORD not in repr(error.to_dict())
    if case.cause is Cause.NOT_SMTP:  # another protocol's banner is never carried back
        assert "banner" not in str(error.to_dict())


async def test_address_policy_refusal_has_its_cause(make_server: MakeServer) -> None:
    from smtp_servers import config_for

    from smtp_connector import ConnectorError, SmtpConnector

    server = make_server()
    async with SmtpConnector(config_for(server, refusePrivateHosts=True)) as connector:
        with pytest.raises(ConnectorError) as info:
            await connector.send("user@example.org", "SignIn", {"code": "1"})
    assert info.value.cause is Cause.ADDRESS_REFUSED and "127.0.0.1" in str(info.value.reason)
    assert server.messages == []
