"""What `serve_probe/sitecustomize.py` recorded, summed up per phase (`tenant_builds.py
--explain`): how long `serve` itself held each request of one path, and where a slow
request's time went: the event loop's CPU (this request's work and other requests' work
handled first, one step at a time), the loop thread waiting on the OS run queue for a CPU,
and the rest (the loop idle or waiting for the interpreter lock: for the SMTP server's reply,
or for another thread of `serve`, such as the connector builds or the database driver).
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, NamedTuple


class Held(NamedTuple):
    """One request as `serve` saw it: from its first bytes to its answer's last."""

    start: float
    wall: float
    loop_cpu: float
    run_queue: float


def held(events: list[list[Any]], path: str) -> list[Held]:
    """The requests to `path`. A connection's requests follow one another (a keep-alive
    client waits for each answer), so each answer closes the request begun by the first
    chunk that arrived after the previous answer."""
    begun: dict[int, list[Any]] = {}
    found = []
    for event in events:
        kind, peer = event[0], event[1]
        if kind == "rx":
            begun.setdefault(peer, event)
        elif kind == "tx" and peer in begun:
            first = begun.pop(peer)
            if event[5] == path:
                found.append(Held(first[2], event[2] - first[2], event[3] - first[3],
                                  (event[4] - first[4]) / 1e9))  # fmt: skip
    return found


def collections_in(events: list[list[Any]], start: float, end: float) -> dict[int, list[float]]:
    """Garbage-collector passes begun in [start, end]: generation -> their durations."""
    begun: dict[int, float] = {}
    passes: dict[int, list[float]] = defaultdict(list)
    for event in events:
        if event[0] != "gc":
            continue
        _, phase, generation, thread, at = event
        if phase == "start":
            begun[thread] = at
        elif thread in begun and start <= begun[thread] <= end:
            passes[generation].append(at - begun.pop(thread))
    return passes


def explain(probe: Path, path: str, windows: dict[str, tuple[float, float]]) -> list[str]:
    """Lines for each phase (name -> its start and end, on the shared monotonic clock); a
    request is slow above 10x the p50 of `serve`'s own time in the first phase."""
    events = json.loads(probe.read_text())
    requests = held(events, path)
    lines, p50 = [], 0.0
    for name, (start, end) in windows.items():
        phase = [r for r in requests if start <= r.start <= end]
        if not phase:
            continue
        walls = sorted(r.wall for r in phase)
        p50 = p50 or statistics.median(walls)
        slow = [r for r in phase if r.wall > 10 * p50]
        wall, cpu, queue = (sum(map(f, slow)) * 1000 for f in (_wall, _cpu, _queue))
        gcs = collections_in(events, start, end)
        lines += [
            f"serve's own time, steady app {name}: p50 {_ms(walls[len(walls) // 2])}, p99 "
            f"{_ms(walls[int(len(walls) * 0.99)])}, worst {_ms(walls[-1])}; {len(slow)} of "
            f"{len(walls)} over 10x its p50 alone, {wall:.0f} ms in all = loop CPU {cpu:.0f} "
            f"+ waiting for a CPU {queue:.0f} + the rest {wall - cpu - queue:.0f}",
            "  its 3 slowest (wall = loop CPU + waiting for a CPU + the rest): " + ", ".join(
                f"{_ms(r.wall)} = {_ms(r.loop_cpu)} + {_ms(r.run_queue)} + "
                f"{_ms(r.wall - r.loop_cpu - r.run_queue)}"
                for r in sorted(phase, key=_wall)[-3:]
            ),
            "  serve's collections: " + (", ".join(
                f"gen{g} {len(d)} (longest {_ms(max(d))})" for g, d in sorted(gcs.items())
            ) or "none"),
        ]  # fmt: skip
    return lines


def _wall(request: Held) -> float:
    return request.wall


def _cpu(request: Held) -> float:
    return request.loop_cpu


def _queue(request: Held) -> float:
    return request.run_queue


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"
