"""Finding 6: the pipelining protocol dropped aiosmtplib's reply-size cap.

A server that answers MAIL with a line that never ends grew the client's buffer to 580 MB and
stalled the loop. Every read path now keeps aiosmtplib's cap: the send fails fast with
`connection_failed` ("Response too long") instead of buffering until `socketTimeout`.
"""

from __future__ import annotations

import pytest
from smtp_servers import ScriptedServer, config_for, endless_reply_dialogue

from smtp_connector import ConnectorError, ErrorCode, SmtpConnector


@pytest.mark.parametrize("pipelining", [True, False], ids=["pipelined", "lock-step"])
async def test_endless_reply_is_cut_off(pipelining: bool) -> None:
    server = await ScriptedServer(
        lambda reader, writer: endless_reply_dialogue(reader, writer, pipelining=pipelining)
    ).start()
    try:
        # socketTimeout is far away: without the cap this would end as `timeout`, after
        # buffering everything the server sent until then.
        config = config_for(server.port, socketTimeout=60_000)
        async with SmtpConnector(config) as connector:
            with pytest.raises(ConnectorError) as info:
                await connector.send("user@example.org", "SignIn", {"code": "1"})
    finally:
        await server.stop()
    error = info.value
    assert error.code is ErrorCode.CONNECTION_FAILED
    assert "too long" in error.message
    assert error.smtp_code is None
