"""One live `SmtpConnector` per app, reused across sends so pooled SMTP connections stay warm.

Entries are keyed by the app's `definitions_version`: a change to any definition (from this
process or another one sharing the database) makes the next send build a fresh connector.
The replaced one is retired and closed once the sends still using it finish, so a change
never cuts a message off mid-DATA.

Building a connector validates the config, compiles templates and loads TLS material:
milliseconds per definition, so an app with many of them would hold the event loop (every
app's sends) for as long. `run_build` runs that work in a small thread pool of its own (not
the loop's default executor, which resolves host names for every send); while it runs, the
loop serves everyone else, and only the app's own sends wait, on the app's lock; and the loop
gets the interpreter lock back quickly when it needs it (switching.py). The analysis of a
template before its first payload check (precheck.py) runs in a thread of its own, `run_check`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from .switching import short_turns
from .template_chain import AppTemplates

if TYPE_CHECKING:  # built by configs.build_connector, which loads the connector on first use
    from smtp_connector import SmtpConnector


class Versions(NamedTuple):
    """An app's `definitions_version` (a change rebuilds its connector) and
    `templates_version` (a change reloads the connector's template snapshot)."""

    definitions: int
    templates: int


@dataclass
class LiveConnector:
    """A connector plus what the send path needs to know about the definitions behind it."""

    connector: SmtpConnector
    version: int
    definition_ids: tuple[str, ...]
    enqueue: bool  # the primary (first-tried) definition asks for queued sending
    templates: AppTemplates | None = None  # the app's templates, the connector's provider
    users: int = 0
    retired: bool = False
    labels: dict[str, str] = field(default_factory=dict)  # server name in results -> id

    def definition_for(self, server_name: str | None) -> str | None:
        return self.labels.get(server_name) if server_name else None


# Given a connector whose compiled templates the new one may reuse (None: none to reuse).
Build = Callable[[LiveConnector | None], Awaitable[LiveConnector]]
T = TypeVar("T")
BUILD_THREADS = 2  # builds of different apps at once (more would only fight over the GIL)


class ConnectorCache:
    def __init__(self, version_ttl: float = 1.0) -> None:
        self._builder = ThreadPoolExecutor(BUILD_THREADS, thread_name_prefix="connector-build")
        self._checker = ThreadPoolExecutor(1, thread_name_prefix="connector-check")
        self._entries: dict[str, LiveConnector] = {}
        # What a build may reuse (compiled templates, when they render alike): the connector it
        # replaces, else the last one built for any app (apps without templates of their own
        # render alike: the shipped templates are compiled once per process, not per app).
        self._replaced: dict[str, LiveConnector] = {}  # dropped by a change, not yet rebuilt
        self._latest: tuple[str, LiveConnector] | None = None
        self._locks: dict[str, asyncio.Lock] = {}
        self._closing: set[asyncio.Task[None]] = set()
        # app -> (its versions, when read): spares the per-send version query. A change
        # made through this process invalidates at once; one made by another process (CLI,
        # another serve) is seen within `version_ttl` seconds: `refreshed` keeps the entries
        # current off the request path (freshness.py), a send re-reads only a stale one.
        self._versions: dict[str, tuple[Versions, float]] = {}
        self._generation: dict[str, int] = {}
        self.version_ttl = version_ttl

    def generation(self, app_id: str) -> int:
        """Take before reading a version; pass to `saw_version` so a concurrent change wins."""
        return self._generation.get(app_id, 0)

    def known_version(self, app_id: str) -> Versions | None:
        seen = self._versions.get(app_id)
        if seen is None or time.monotonic() - seen[1] > self.version_ttl:
            return None
        return seen[0]

    def saw_version(self, app_id: str, version: Versions, generation: int) -> None:
        if self._generation.get(app_id, 0) == generation:
            self._versions[app_id] = (version, time.monotonic())

    def remembered_versions(self) -> tuple[dict[str, int], float]:
        """The apps whose version is remembered (with their generations) and the time, taken
        before one query re-reads those versions for `refreshed`."""
        apps = {app_id: self._generation.get(app_id, 0) for app_id in self._versions}
        return apps, time.monotonic()

    def refreshed(
        self, apps: dict[str, int], started: float, versions: dict[str, Versions]
    ) -> None:
        """What a query begun at `started` read of `apps`' versions (an app it did not find is
        gone). Only entries still remembered are updated: one dropped or changed through this
        process meanwhile (a generation bumped, `stale`), or read since, is left as it is."""
        for app_id, generation in apps.items():
            seen = self._versions.get(app_id)
            if seen is None or self._generation.get(app_id, 0) != generation:
                continue
            if seen[1] >= started:
                continue
            if app_id in versions:
                self._versions[app_id] = (versions[app_id], started)
            else:
                self._versions.pop(app_id, None)

    def take_built(self, app_id: str, version: int) -> LiveConnector | None:
        """`acquire` without a coroutine when the app's connector for `version` is built (nearly
        every send: issue 26 §1); None when it needs a build, which only `acquire` does."""
        entry = self._built(app_id, version)
        if entry is not None:
            entry.users += 1
        return entry

    async def acquire(self, app_id: str, version: int, build: Build) -> LiveConnector:
        """The app's connector for `version` (built on a miss), held open until `release`
        (a send's lease, store/messages.py, pairs the two)."""
        entry = await self._current(app_id, version, build)
        entry.users += 1
        return entry

    def release(self, entry: LiveConnector) -> None:
        """Let go of an `acquire`d entry; a retired one closes with its last user."""
        entry.users -= 1
        if entry.retired and entry.users == 0:
            self._close(entry)

    def _built(self, app_id: str, version: int) -> LiveConnector | None:
        """The app's connector when it is built for `version` or later; None: it needs a build."""
        entry = self._entries.get(app_id)
        return entry if entry is not None and entry.version >= version else None

    async def _current(self, app_id: str, version: int, build: Build) -> LiveConnector:
        found = self._built(app_id, version)
        if found is not None:
            return found
        lock = self._locks.setdefault(app_id, asyncio.Lock())
        async with lock:
            found = self._built(app_id, version)
            if found is not None:
                return found
            entry = self._entries.get(app_id)
            latest = self._latest[1] if self._latest else None
            fresh = await build(entry or self._replaced.get(app_id) or latest)
            self._replaced.pop(app_id, None)
            self._latest = (app_id, fresh)
            self._entries[app_id] = fresh
            if entry is not None:
                self._retire(entry)
            return fresh

    async def run_build(self, work: Callable[[], T]) -> T:
        """Run `work` (CPU-bound, no event loop use) in the build threads, with short turns at
        the interpreter lock meanwhile (switching.py), so the loop is not kept waiting."""
        with short_turns():
            return await asyncio.get_running_loop().run_in_executor(self._builder, work)

    async def run_check(self, work: Callable[[], T]) -> T:
        """`run_build` for the analysis of a template before its first payload check
        (precheck.py), on a thread of its own: a send need not wait for other apps' builds."""
        with short_turns():
            return await asyncio.get_running_loop().run_in_executor(self._checker, work)

    def stale(self, app_id: str) -> None:
        """The app's versions changed without its definitions (its templates): the next send
        reads them again, and keeps its connector."""
        self._generation[app_id] = self._generation.get(app_id, 0) + 1
        self._versions.pop(app_id, None)

    async def invalidate(self, app_id: str) -> None:
        """Drop the app's connector (its definitions changed or the app is gone)."""
        self._generation[app_id] = self._generation.get(app_id, 0) + 1
        self._versions.pop(app_id, None)
        entry = self._entries.pop(app_id, None)
        if entry is not None:
            self._replaced[app_id] = entry  # lends its compiled templates to the next build
            self._retire(entry)

    def forget(self, app_id: str) -> None:
        """The app is gone: nothing of its connector is kept for a next build."""
        self._replaced.pop(app_id, None)
        if self._latest is not None and self._latest[0] == app_id:
            self._latest = None

    def _retire(self, entry: LiveConnector) -> None:
        entry.retired = True
        if entry.users == 0:
            self._close(entry)

    def _close(self, entry: LiveConnector) -> None:
        task = asyncio.get_running_loop().create_task(entry.connector.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close every connector (at shutdown)."""
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            self._close(entry)
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
        self._builder.shutdown(wait=False, cancel_futures=True)
        self._checker.shutdown(wait=False, cancel_futures=True)
