"""DKIM signing cost per message: rsa-sha256 (2048-bit) and ed25519-sha256, relaxed/relaxed.

    python benchmarks/dkim_cost.py                 # 2,000 SignIn mails per run, median of 5 runs
    python benchmarks/dkim_cost.py --count 500 --repeat 3

The messages are what the connector sends (the shipped SignIn template, text + HTML, a
different code and recipient each), rendered to bytes before timing; a run signs each once
with `DkimSigner.sign`, the signer built once as a connector builds it (key parsed then). CPU
time (user + system of this process) ÷ messages, so other load on the machine counts little;
the runs of the two keys are interleaved. "compose" is the CPU of rendering those messages to
bytes without signing, for scale.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable


def _messages(count: int) -> list[bytes]:
    from smtp_connector import SmtpConnector

    connector = SmtpConnector(
        {"transport": "memory", "fromEmail": "noreply@example.com", "fromName": "Acme"}
    )
    return [
        connector.render(
            "SignIn",
            {"code": f"{i % 1_000_000:06d}", "application": {"name": "Acme"}},
            to=f"user{i}@example.org",
        ).as_bytes()
        for i in range(count)
    ]


def _compose_cost(count: int) -> float:
    started = time.process_time()
    _messages(count)
    return (time.process_time() - started) / count * 1e6


def _signer(algorithm: str) -> Callable[[bytes], bytes]:
    from smtp_connector.config import DkimOptions
    from smtp_connector.signing.dkim import DkimSigner, generate_dkim_key

    pem, _record = generate_dkim_key("s1", "example.com", algorithm)  # type: ignore[arg-type]
    options = DkimOptions.model_validate(
        {"domainName": "example.com", "keySelector": "s1", "privateKey": pem}
    )
    return DkimSigner(options).sign


def _run(sign: Callable[[bytes], bytes], messages: list[bytes]) -> float:
    started = time.process_time()
    for message in messages:
        sign(message)
    return (time.process_time() - started) / len(messages) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    messages = _messages(args.count)
    signers = {"rsa-sha256 (2048)": _signer("rsa"), "ed25519-sha256": _signer("ed25519")}
    for sign in signers.values():
        _run(sign, messages[:200])  # warm-up: first-use costs out of the measured runs
    runs: dict[str, list[float]] = {name: [] for name in signers}
    compose: list[float] = []
    for _ in range(args.repeat):
        for name, sign in signers.items():
            runs[name].append(_run(sign, messages))
        compose.append(_compose_cost(min(args.count, 500)))
    lines = ["| DKIM key | µs CPU per message: median (range) |", "|---|---|"]
    for name, values in runs.items():
        lines.append(
            f"| {name} | {statistics.median(values):.0f} ({min(values):.0f}–{max(values):.0f}) |"
        )
    lines.append(
        f"| (compose, unsigned, for scale) | {statistics.median(compose):.0f} "
        f"({min(compose):.0f}–{max(compose):.0f}) |"
    )
    lines.append(
        f"\n{args.count:,} SignIn mails per run, {args.repeat} interleaved runs, relaxed/relaxed; "
        f"Python {sys.version.split()[0]}."
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
