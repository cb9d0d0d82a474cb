"""Failover servers validated once per distinct setting, not at every connector build.

An app's connector is rebuilt whenever one of its definitions changes, and its config names
every active definition: the first as the top-level server, the others in `servers[]`.
Validating that config from dicts cost about 0.2 ms per definition (pydantic models for the
server, its auth and TLS options, their after-checks), 7-10 ms for an app with 40 of them,
all of it holding the interpreter lock the event loop needs (tenant_builds.py), and all of it
spent again on the 39 definitions that had not changed.

`ValidatedServers.config` validates the whole config as before, except that a `servers[]`
entry seen before, equal in every key and value, is handed over as the `ServerConfig`
validated then (pydantic takes a model instance as it is); the config-level checks (special-use
senders, URL access, TLS notes) still run on every build. Entries not seen before are
validated as dicts inside the config, so a refusal names the same `servers.N…` field as ever;
only a config that validated remembers its new entries.

The remembered instances are shared by successive connectors (and by apps whose entries are
equal); nothing changes a `ServerConfig` after validation. They hold the decrypted password, as
the connector's config does, so they are held *weakly*: an entry lives exactly as long as a
config that uses it (a cached connector, the one being replaced), and a deleted or changed
definition's password leaves memory with the last connector that sent through it. The keys
are digests, or what the caller passes in their place: configs.build_config keys an entry by
the columns of the definition it comes from (Fernet tokens, not passwords) and the app's
sender, which it can do before decrypting anything, so an unchanged definition is neither
decrypted, digested nor validated again (`known`, then `config` with those keys).

The whole config is remembered the same way, under a key the caller gives (`config`'s
`whole`): the primary definition's columns, the app's sender and locale and the failover
entries' keys. A rebuild whose definitions and sender are all unchanged (another column
changed: a description, a name, a status elsewhere) takes the `SmtpConfig` validated for the
connector it replaces (`validated`) instead of deciding the primary's server, its auth and TLS
options and the config-level checks again, about 40 % of a 40-definition build's CPU in the
build threads, held weakly like the entries.
"""

from __future__ import annotations

import hashlib
import json
import threading
import weakref
from collections.abc import Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the config models are built with the first definition, not at start
    from smtp_connector.config import ServerConfig, SmtpConfig


def entry_key(entry: Mapping[str, Any]) -> bytes | None:
    """`entry` as a key, equal exactly when the entries are: a digest of its JSON with sorted
    keys (which tells `true` from `1` and `1` from `"1"`; hashed, as the TLS context cache
    does, so that no password is kept as a key); None for an entry that is not JSON (not
    remembered, validated every time)."""
    try:
        text = json.dumps(entry, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return hashlib.sha256(text.encode()).digest()


class ValidatedServers:
    """Validates configs, reusing the `ServerConfig` of each `servers[]` entry seen before."""

    def __init__(self) -> None:
        self._known: weakref.WeakValueDictionary[Hashable, ServerConfig] = (
            weakref.WeakValueDictionary()
        )
        self._configs: weakref.WeakValueDictionary[Hashable, SmtpConfig] = (
            weakref.WeakValueDictionary()
        )
        self._lock = threading.Lock()  # builds run in more than one thread

    def __len__(self) -> int:
        """How many validated entries some live config still uses."""
        return len(self._known)

    def known(self, keys: Sequence[Hashable | None]) -> list[ServerConfig | None]:
        """The validated entry remembered under each key (None: none, or a None key). Put it
        in `servers[]` in place of its dict: the caller's reference keeps it alive."""
        with self._lock:
            return [None if key is None else self._known.get(key) for key in keys]

    def validated(self, whole: Hashable) -> SmtpConfig | None:
        """The config remembered under `whole` (see `config`), while a live connector uses it."""
        with self._lock:
            return self._configs.get(whole)

    def config(
        self, data: Mapping[str, Any], keys: Sequence[Hashable | None] | None = None,
        whole: Hashable | None = None,
    ) -> SmtpConfig:  # fmt: skip
        """`SmtpConfig.model_validate(data)`, the known `servers[]` entries not validated
        again. Raises the same `invalid_config` error as that call. `keys`, one per entry,
        replace the entries' digests: a key must tell apart every two entries that differ.
        `whole`, when given, remembers the config itself: a key that tells apart every two
        `data` that differ."""
        from smtp_connector.config.models import SmtpConfig

        entries = list(data.get("servers") or ())
        if not entries:
            return self._remember(whole, SmtpConfig.model_validate(data))
        if keys is None:
            keys = [entry_key(entry) for entry in entries]
        with self._lock:
            known = [None if key is None else self._known.get(key) for key in keys]
        servers = [new if old is None else old for new, old in zip(entries, known, strict=True)]
        config = SmtpConfig.model_validate({**data, "servers": servers})
        with self._lock:
            for key, server, validated in zip(keys, known, config.servers, strict=True):
                if server is None and key is not None:
                    self._known[key] = validated
        return self._remember(whole, config)

    def _remember(self, whole: Hashable | None, config: SmtpConfig) -> SmtpConfig:
        if whole is not None:
            with self._lock:
                self._configs[whole] = config
        return config
