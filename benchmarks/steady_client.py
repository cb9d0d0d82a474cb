"""The steady app's client for tenant_builds.py, in a process of its own.

    python benchmarks/steady_client.py PORT WARM SECONDS   # key in $STEADY_KEY; JSON on stdout

Sends to app `steady` one request at a time for WARM seconds (not kept), then for SECONDS,
and prints the kept latencies (seconds) and when the kept part began and ended (on
`time.perf_counter`'s clock, CLOCK_MONOTONIC: the one `serve_probe` stamps) as JSON.
tenant_builds.py used to run this loop in its own process, beside the churn client on
the same event loop and after building the apps in-process (SQLAlchemy, pydantic, the store:
a large heap). A steady send's time then included the churn's responses handled first on
that loop, and that process's own full collections: one gen2 pass of 118 ms was the worst
"steady" send of a run with nothing rebuilt. Here nothing else runs on the loop, and the
collector is off (a few thousand requests make little garbage), so a latency is the
service's, not the client's.
"""

from __future__ import annotations

import gc

gc.disable()  # before the imports: nothing in this process pauses to collect

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from service import Http  # noqa: E402

BODY = {"to": "user@example.org", "usageType": "SignIn", "payload": {"code": "123456"}}


async def sends(port: int, key: str, warm: float, seconds: float) -> dict[str, object]:
    """One request at a time on one keep-alive connection; latencies after the warm-up."""
    latencies: list[float] = []
    window = [0.0, 0.0]
    async with Http(port, key) as http:
        for keep, span in ((False, warm), (True, seconds)):
            window[0] = time.perf_counter()
            until = window[0] + span
            while (started := time.perf_counter()) < until:
                status, body = await http.call("POST", "/v1/apps/steady/messages", BODY)
                if keep:
                    latencies.append(time.perf_counter() - started)
                if status != 200:
                    raise SystemExit(f"steady: HTTP {status} {body[:200]!r}")
    window[1] = time.perf_counter()
    return {"latencies": latencies, "window": window}


def main() -> None:
    port, warm, seconds = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(asyncio.run(sends(port, os.environ["STEADY_KEY"], warm, seconds))))


if __name__ == "__main__":
    main()
