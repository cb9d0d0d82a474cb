"""`lazy_routers.Deferred` remembers the paths that reach no waiting router (`unreached`), so a
send to one app's path skips asking every router on each request. Hypothesis holds it to the
general path, which asks every waiting router for every request: over any sequence of paths,
with the app's real predicates (the native admin routers and the dialects) and a memory small
enough to be forgotten mid-sequence, both install the same routers in the same order."""

from __future__ import annotations

from typing import Any

import pytest
import service_fixtures  # noqa: F401  (skips without the server extra; fails on CI)
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector.server import lazy_routers
from smtp_connector.server.app import ADMIN_ROUTERS
from smtp_connector.server.dialects import loader
from smtp_connector.server.lazy_routers import Deferred, Places

WAITING = {**ADMIN_ROUTERS, **{name: loader._reaches(prefix) for name, prefix in loader.DIALECTS}}
SEGMENTS = ["v1", "apps", "x", "app-1", "messages", "servers", "templates", "presets", "", "api",
            "2.0", "smtpsettings", "smtpserver", "private", "smtps", "email-templates", "1",
            "smtpserverx", "appsx", "app-integrations", "SignIn"]  # fmt: skip
PATHS = st.lists(st.sampled_from(SEGMENTS), max_size=6).map(lambda parts: "/" + "/".join(parts))


class _Nothing(set[str]):
    """The general path: no path is ever remembered."""

    def __contains__(self, path: object) -> bool:
        return False

    def add(self, path: str) -> None:
        return None


def _group(installed: list[str]) -> Deferred:
    places = Places()
    for name in WAITING:
        places.reserve(name, 0)

    def load(app: Any, name: str) -> None:
        installed.append(name)

    return Deferred(FastAPI(), places, WAITING, load)


@settings(max_examples=300, deadline=None)
@given(paths=st.lists(PATHS, max_size=40), limit=st.integers(1, 8))
def test_remembered_paths_install_what_the_general_path_installs(
    paths: list[str], limit: int
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lazy_routers, "MAX_UNREACHED", limit)  # forgotten mid-sequence too
        remembered, general = [], []
        fast, slow = _group(remembered), _group(general)
        slow.unreached = _Nothing()
        for path in paths + paths:  # every path asked again: the remembered ones answer then
            fast.install_for(path)
            slow.install_for(path)
            assert remembered == general
            assert list(fast.waiting) == list(slow.waiting)
        assert len(fast.unreached) <= limit


def test_a_send_path_is_remembered_and_reaches_nothing() -> None:
    installed: list[str] = []
    group = _group(installed)
    group.install_for("/v1/apps/app-1/messages")
    assert installed == [] and group.unreached == {"/v1/apps/app-1/messages"}
    group.install_for("/v1/apps/app-1/servers")  # another path of that app still installs
    assert installed == ["servers"]


def test_a_flood_of_unknown_paths_stays_bounded_and_an_admin_path_still_installs() -> None:
    """An outsider picks the paths (no key is needed to reach the middleware): at the real
    limit, thousands of distinct paths that reach nothing keep at most MAX_UNREACHED in
    memory, and a later admin path still installs its router."""
    installed: list[str] = []
    group = _group(installed)
    for number in range(lazy_routers.MAX_UNREACHED + 500):
        group.install_for(f"/v1/apps/attacker-{number}/messages")
        assert len(group.unreached) <= lazy_routers.MAX_UNREACHED
    assert installed == []
    group.install_for("/v1/apps/app-1/templates")
    assert installed == ["app_templates"]
