"""TLS contexts from Logto/Node-style `tls` options.

Built once per distinct setting and shared: by every pooled connection of a server, and by
every server (of any connector in the process) with the same options. Creating an SSLContext
and loading the CA store costs milliseconds, so a service holding hundreds of definitions with
the default settings builds one, not hundreds. Only options that read no file are cached (a
file's content may change; its path says nothing about it). Certificate checks are on unless
`rejectUnauthorized: false`.
"""

from __future__ import annotations

import hashlib
import json
import os
import ssl
import tempfile
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

from ..config.plain import tls_version
from ..errors import ConnectorError, ErrorCode

if TYPE_CHECKING:
    from ..config.views import ServerView, TlsView

CACHE_SIZE = 64  # distinct TLS settings kept; the least recently used goes first
_contexts: OrderedDict[str, ssl.SSLContext] = OrderedDict()
_contexts_lock = threading.Lock()  # connectors are also built in worker threads


def may_use_tls(server: ServerView) -> bool:
    """Whether a session with `server` can ever need a TLS context: not with `ignoreTLS` on a
    plain port and no `tls` options given (options given are still built, so a bad CA or key
    is refused when the connector is built, as it is for every other server). Loading the
    system's CA store is most of the first send's setup, so a plain-SMTP connector skips it."""
    return server.implicit_tls or not server.ignore_tls or server.tls.any_given


def build_ssl_context(server: ServerView, *, allow_files: bool = True) -> ssl.SSLContext:
    """An SSLContext for `server`'s TLS options, shared with every server that has the same
    ones; `allow_files=False` (disableFileAccess) refuses file paths. Never mutate the result."""
    key = _cache_key(server.tls, allow_files)
    if key is None:
        return _new_context(server, allow_files)
    with _contexts_lock:
        found = _contexts.get(key)
        if found is not None:
            _contexts.move_to_end(key)
            return found
    context = _new_context(server, allow_files)  # outside the lock: it takes milliseconds
    with _contexts_lock:
        context = _contexts.setdefault(key, context)  # a concurrent build of the same: one wins
        while len(_contexts) > CACHE_SIZE:
            _contexts.popitem(last=False)
    return context


# The keys of options that set nothing but `rejectUnauthorized`, by (allow_files, that flag).
_plain_keys: dict[tuple[bool, bool], str | None] = {}


def _cache_key(options: TlsView, allow_files: bool) -> str | None:
    """`_digest_key`, remembered for options that set nothing but `rejectUnauthorized`: what
    a stored definition's failover server has, once per server at every connector rebuild (40
    JSON dumps and digests for an app with 40 definitions, in the build thread that holds the
    interpreter lock the event loop waits for). Read from the options each time, not kept on
    them: a config model may be changed between two builds."""
    if (
        options.ca is None
        and options.cert is None
        and options.key is None
        and options.passphrase is None
        and options.pfx is None
        and options.min_version is None
        and options.max_version is None
        and options.ciphers is None
        and type(options.reject_unauthorized) is bool
        and type(allow_files) is bool
    ):
        plain = (allow_files, options.reject_unauthorized)
        key = _plain_keys.get(plain)
        if key is None:
            key = _plain_keys[plain] = _digest_key(options, allow_files)
        return key
    return _digest_key(options, allow_files)


def _digest_key(options: TlsView, allow_files: bool) -> str | None:
    """A digest of the options a context is made of (the secrets in them hashed, never kept
    as keys), or None when building it may read a file."""
    cas = _as_list(options.ca)
    if options.pfx is not None or not all(_is_pem(ca) for ca in cas):
        return None
    if options.cert is not None and not _is_pem(options.cert):
        return None
    key = options.key.get_secret_value() if options.key else None
    if key is not None and not _is_pem(key):
        return None
    passphrase = options.passphrase.get_secret_value() if options.passphrase else None
    material = [allow_files, options.reject_unauthorized, cas, options.min_version,
                options.max_version, options.ciphers, options.cert, key, passphrase]  # fmt: skip
    return hashlib.sha256(json.dumps(material).encode()).hexdigest()


def _new_context(server: ServerView, allow_files: bool) -> ssl.SSLContext:
    options = server.tls
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    for ca in _as_list(options.ca):
        _load_ca(context, ca, allow_files)
    if not options.reject_unauthorized:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    minimum, maximum = tls_version(options.min_version), tls_version(options.max_version)
    if minimum:
        context.minimum_version = minimum
    if maximum:
        context.maximum_version = maximum
    if options.ciphers:
        _set_ciphers(context, options.ciphers)
    if options.cert and options.key:
        passphrase = options.passphrase.get_secret_value() if options.passphrase else None
        _load_client_cert(
            context, options.cert, options.key.get_secret_value(), passphrase, allow_files
        )
    elif options.pfx:
        passphrase = options.passphrase.get_secret_value() if options.passphrase else None
        from .pkcs12 import pfx_to_pem  # a client certificate in PKCS#12: rare, loads on use

        chain, key, password = pfx_to_pem(
            options.pfx.get_secret_value(), passphrase, allow_files=allow_files
        )
        _load_client_cert(context, chain, key, password, allow_files, label="`tls.pfx`")
    return context


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _is_pem(value: str) -> bool:
    return "-----BEGIN " in value


def _load_ca(context: ssl.SSLContext, ca: str, allow_files: bool) -> None:
    """PEM text, or a PEM/DER file read through the bounded option-file reader."""
    data: str | bytes = ca if _is_pem(ca) else _read(ca, "tls.ca", allow_files)
    if isinstance(data, bytes) and _is_pem(data.decode("ascii", errors="replace")):
        data = data.decode("ascii", errors="replace")
    try:
        context.load_verify_locations(cadata=data)
    except (ssl.SSLError, ValueError) as exc:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"`tls.ca` could not be loaded ({exc.__class__.__name__}); give PEM text "
            "(-----BEGIN CERTIFICATE-----…) or the path of a PEM file.",
        ) from None


def _read(value: str, field: str, allow_files: bool) -> bytes:
    from ..files import OptionFileError, read_option_file  # a CA or key given as a file only

    try:
        return read_option_file(value, field, allow_files=allow_files)
    except OptionFileError as exc:
        raise ConnectorError(ErrorCode.INVALID_CONFIG, f"Invalid TLS option: {exc}.") from None


def _set_ciphers(context: ssl.SSLContext, ciphers: str) -> None:
    try:
        context.set_ciphers(ciphers)
    except ssl.SSLError:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG, f"`tls.ciphers` {ciphers!r} matches no cipher OpenSSL knows."
        ) from None


def _load_client_cert(
    context: ssl.SSLContext,
    cert: str,
    key: str,
    passphrase: str | None,
    allow_files: bool,
    label: str = "`tls.cert`/`tls.key`",
) -> None:
    """`load_cert_chain` only takes paths, so inline PEM is written to a private temp file."""
    temp_paths: list[str] = []
    try:
        cert_path = _pem_path(cert, "tls.cert", allow_files, temp_paths)
        key_path = _pem_path(key, "tls.key", allow_files, temp_paths)
        context.load_cert_chain(cert_path, key_path, password=passphrase)
    except (ssl.SSLError, OSError) as exc:
        raise ConnectorError(
            ErrorCode.INVALID_CONFIG,
            f"Client certificate ({label}) could not be loaded: "
            f"{exc.__class__.__name__}; check the PEM text and the passphrase.",
        ) from None
    finally:
        for path in temp_paths:
            os.unlink(path)


def _pem_path(value: str, field: str, allow_files: bool, temp_paths: list[str]) -> str:
    """A private temp file holding the PEM text, read first from the option's file if needed
    (so the bounded reader and `disableFileAccess` apply to OpenSSL's input too)."""
    data = value.encode("utf-8") if _is_pem(value) else _read(value, field, allow_files)
    handle, path = tempfile.mkstemp(suffix=".pem")
    temp_paths.append(path)
    with os.fdopen(handle, "wb") as file:
        file.write(data)
    return path
