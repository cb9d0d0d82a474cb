"""One SSL context per distinct TLS setting, shared (issue 27, finding 5): building a context
loads the CA store (milliseconds), and a service building connectors for hundreds of
definitions with the same settings built one per definition, on its event loop. Options that
read a file are never shared (the file may change under the same path)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from smtp_servers import MakeServer, config_for

from smtp_connector import SmtpConfig, SmtpConnector
from smtp_connector.delivery.tls import build_ssl_context


def server(**tls: object) -> SmtpConfig:
    return SmtpConfig.model_validate(config_for(25, tls=tls) if tls else config_for(25))


def test_the_same_settings_share_one_context(ca_pem: str) -> None:
    assert build_ssl_context(server()) is build_ssl_context(server())
    assert build_ssl_context(server(ca=ca_pem)) is build_ssl_context(server(ca=ca_pem))
    servername_only = server(ca=ca_pem, servername="mail.example.org")  # not part of a context
    assert build_ssl_context(servername_only) is build_ssl_context(server(ca=ca_pem))


def test_different_settings_get_different_contexts(ca_pem: str) -> None:
    plain = build_ssl_context(server())
    others = [
        build_ssl_context(server(ca=ca_pem)),
        build_ssl_context(server(rejectUnauthorized=False)),
        build_ssl_context(server(minVersion="TLSv1.3")),
        build_ssl_context(server(ciphers="ECDHE+AESGCM")),
    ]
    assert len({id(plain), *map(id, others)}) == 5
    assert others[1].check_hostname is False and plain.check_hostname is True


def test_options_read_from_files_are_not_shared(ca_pem: str, tmp_path: Path) -> None:
    path = tmp_path / "ca.pem"
    path.write_text(ca_pem)
    assert build_ssl_context(server(ca=str(path))) is not build_ssl_context(server(ca=str(path)))


def test_threads_building_at_once_get_one_context(ca_pem: str) -> None:
    """Connectors are built in worker threads by the service: the cache is shared safely."""
    config = server(ca=ca_pem, minVersion="TLSv1.2")
    with ThreadPoolExecutor(8) as pool:
        contexts = list(pool.map(lambda _: build_ssl_context(config), range(32)))
    assert len({id(context) for context in contexts}) == 1


async def test_connectors_sharing_a_context_both_deliver_over_starttls(
    make_server: MakeServer, ca_pem: str
) -> None:
    smtp = make_server(mode="starttls", require_starttls=True)  # no MAIL before STARTTLS
    configs = [config_for(smtp, tls={"ca": ca_pem}, requireTLS=True) for _ in range(2)]
    async with SmtpConnector(configs[0]) as first, SmtpConnector(configs[1]) as second:
        for n, connector in enumerate((first, second)):
            result = await connector.send(f"user{n}@example.org", "SignIn", {"code": "123456"})
            assert result.accepted == [f"user{n}@example.org"]
    assert [m.rcpt_tos for m in smtp.messages] == [["user0@example.org"], ["user1@example.org"]]
