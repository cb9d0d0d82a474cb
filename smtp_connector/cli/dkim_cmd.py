"""`smtp-connector dkim-keygen`: make a DKIM key pair and print the DNS record to publish.

Publishing DKIM is the step people get wrong (a TXT string over 255 octets, the wrong record
name, a key file left world-readable), so the command writes the private key with mode 0600,
refuses to overwrite one without `--force`, and prints the record both as name/value (for DNS
web consoles) and as a zone-file line with the value split into valid strings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..errors import ConnectorError, ErrorCode
from .app import echo_json, handles_errors, json_option, main


@main.command("dkim-keygen")
@click.option("--selector", required=True, help="DKIM selector, e.g. s1 (the DNS label).")
@click.option("--domain", required=True, help="Signing domain, e.g. example.com.")
@click.option(
    "--algorithm",
    type=click.Choice(["rsa", "ed25519"]),
    default="rsa",
    show_default=True,
    help="rsa is understood by every receiver; ed25519 (RFC 8463) is best added alongside it.",
)
@click.option(
    "--bits",
    type=click.IntRange(1024, 4096),
    default=2048,
    show_default=True,
    help="RSA key size.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Private key file to write [default: <selector>.<domain>.dkim.pem].",
)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
@json_option
@handles_errors
def dkim_keygen(
    selector: str,
    domain: str,
    algorithm: str,
    bits: int,
    out_path: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Generate a DKIM key, write it, and print the DNS TXT record to publish."""
    from ..signing.dkim import dns_record_name, generate_dkim_key, txt_strings

    try:
        name = dns_record_name(selector, domain)
        pem, record = generate_dkim_key(selector, domain, algorithm, bits)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConnectorError(ErrorCode.INVALID_CONFIG, str(exc), retryable=False) from None
    path = Path(out_path or f"{selector}.{domain}.dkim.pem")
    _write_private_key(path, pem, force)
    zone_line = f"{name}. IN TXT ( " + " ".join(f'"{s}"' for s in txt_strings(record)) + " )"
    config = {"domainName": domain, "keySelector": selector, "privateKey": str(path)}
    if as_json:
        echo_json(
            {
                "ok": True,
                "name": name,
                "value": record,
                "zoneFileLine": zone_line,
                "keyFile": str(path),
                "algorithm": algorithm,
                "bits": bits if algorithm == "rsa" else None,
                "config": {"dkim": config},
            }
        )
        return
    _print_instructions(name, record, zone_line, path, config)


def _write_private_key(path: Path, pem: str, force: bool) -> None:
    """Create the key file readable by its owner only; never clobber an existing key silently."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"{path} already exists; pass --force to overwrite it or choose another --out",
            retryable=False,
        ) from None
    except OSError as exc:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, f"cannot write {path}: {exc.strerror}", retryable=False
        ) from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(pem)
    os.chmod(path, 0o600)  # O_TRUNC on an existing file keeps its old mode


def _print_instructions(
    name: str, record: str, zone_line: str, path: Path, config: dict[str, str]
) -> None:
    """Human output: where the key went, what to publish, what to put in the config."""
    click.echo(f"Private key written to {path} (mode 600; keep it secret).\n")
    click.echo("Publish this DNS TXT record:")
    click.echo(f"  Name:  {name}")
    click.echo(f"  Value: {record}\n")
    click.echo("As a zone-file line (split into 255-octet strings):")
    click.echo(f"  {zone_line}\n")
    click.echo("Then add to the connector config:")
    click.echo(f'  "dkim": {json.dumps(config)}')
