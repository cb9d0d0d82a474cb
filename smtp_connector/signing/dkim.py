"""DKIM signing (RFC 6376, RSA-SHA256 and RFC 8463 Ed25519-SHA256) of the final message bytes.

Why this shape:
- Keys are parsed once, when the signer is built: signing sits on the send hot path, and
  dkimpy's own `sign()` re-parses the PEM and does RSA in pure Python on every call (milliseconds
  per message), and needs PyNaCl for Ed25519. Here the crypto is `cryptography` (OpenSSL), and
  dkimpy supplies the canonicalization (`dkim.canonicalization`), the fiddly part of DKIM that
  receivers' verifiers (dkimpy among them) must agree with byte for byte.
- `relaxed/relaxed` canonicalization by default, as nodemailer: survives the re-folding relays
  do. `dkim.canonicalization` picks `simple/simple` or a mix per key, for receivers or
  policies that want it; each distinct choice canonicalizes the message once.
- From, To, Cc, Reply-To, Subject, Date and Message-ID are over-signed (listed once more than
  present), so nobody can add a second Subject or a Reply-To to a signed verification mail.
- Errors name the field and the problem, never key material.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..config import DkimOptions
from ..config.headers import is_field_name
from ..errors import install_hint, register_secret
from .common import (
    CRLF,
    PRIVATE_KEY_LABEL,
    SigningFailure,
    is_pem,
    pem_blocks,
    read_source,
    require_cryptography,
    split_message,
    to_crlf,
    unparsable_key_message,
)
from .dkim_shapes import MAX_ENTRIES, Canonicalizer, HeadShape, head_shape

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

RSA_SHA256 = b"rsa-sha256"
ED25519_SHA256 = b"ed25519-sha256"
MIN_RSA_BITS = 1024
MAX_RSA_BITS = 8192

# RFC 6376 §5.4.1's recommended list (nodemailer's default) plus Auto-Submitted, which
# reputation systems read on automated mail.
DEFAULT_SIGNED_HEADERS: tuple[bytes, ...] = (
    b"from", b"sender", b"reply-to", b"subject", b"date", b"message-id", b"to", b"cc",
    b"mime-version", b"content-type", b"content-transfer-encoding", b"content-id",
    b"content-description", b"resent-date", b"resent-from", b"resent-sender", b"resent-to",
    b"resent-cc", b"resent-message-id", b"in-reply-to", b"references", b"list-id",
    b"list-help", b"list-unsubscribe", b"list-subscribe", b"list-post", b"list-owner",
    b"list-archive", b"auto-submitted",
)  # fmt: skip
OVERSIGNED_HEADERS: tuple[bytes, ...] = (
    b"from", b"to", b"cc", b"reply-to", b"subject", b"date", b"message-id",
)  # fmt: skip
# Relays add or rewrite these; signing them breaks the signature in transit.
_NEVER_SIGNED = frozenset({b"dkim-signature", b"received", b"return-path"})
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_RAW_ED25519 = re.compile(r"^[A-Za-z0-9+/]{43}=$")
_FOLD_AT = 76


@dataclass(frozen=True)
class _SigningKey:
    """One parsed key with its DNS identity; `sign` is bound at load time (no parsing later)."""

    domain: bytes
    selector: bytes
    algorithm: bytes
    header_names: tuple[bytes, ...] | None
    sign: Callable[[bytes], bytes] = field(repr=False, compare=False)
    canonicalization: bytes  # `header/body`, as the c= tag says
    policy: Any = field(repr=False, compare=False)  # dkimpy's CanonicalizationPolicy for it

    def __repr__(self) -> str:
        return (
            f"DkimKey(d={self.domain.decode()!r}, s={self.selector.decode()!r}, "
            f"a={self.algorithm.decode()!r}, c={self.canonicalization.decode()!r})"
        )


def check_dkim_options(options: DkimOptions) -> None:
    """Validate one DKIM key; raise ValueError with a clear, secret-free message. `DkimSigner`
    runs the same checks for each of its keys when it is built."""
    _load_signing_key(options)


class DkimSigner:
    """Signs messages with one or several DKIM keys (e.g. RSA and Ed25519 side by side).

    Build it once per connector; `sign` is safe to call concurrently (it keeps no state).
    """

    name = "dkim"

    def __init__(self, options: DkimOptions | Sequence[DkimOptions]) -> None:
        items = [options] if isinstance(options, DkimOptions) else list(options)
        if not items:
            raise ValueError("DkimSigner needs at least one DKIM key")
        self._keys = tuple(_load_signing_key(item) for item in items)
        self._canonicalizers = {k.canonicalization: Canonicalizer(k.policy) for k in self._keys}
        self._shapes: dict[tuple[int, tuple[bytes, ...], int, int], HeadShape] = {}

    def __repr__(self) -> str:
        return f"DkimSigner({', '.join(repr(key) for key in self._keys)})"

    @property
    def domains(self) -> list[str]:
        """The `d=` domains signed for, for DMARC alignment checks."""
        return [key.domain.decode("ascii") for key in self._keys]

    def sign(self, message: bytes) -> bytes:
        """The message with one DKIM-Signature field per key prepended (config order, top down).
        What does not depend on the message is cached per shape (`dkim_shapes.py`)."""
        data = to_crlf(message)
        fields, body = split_message(data)
        names = tuple([f.lower_name for f in fields])
        if b"from" not in names:
            raise SigningFailure("the message has no From header field, which DKIM must sign")
        now = str(int(time.time())).encode("ascii")
        canonical: dict[bytes, tuple[bytes, list[bytes]]] = {}
        signatures = []
        for index, key in enumerate(self._keys):
            done = canonical.get(key.canonicalization)
            if done is None:
                canon = self._canonicalizers[key.canonicalization]
                body_hash = base64.b64encode(hashlib.sha256(canon.body(body)).digest())
                done = canonical[key.canonicalization] = (body_hash, canon.fields(fields))
            body_hash, headers = done
            shape = self._head_shape(index, names, len(now), len(body_hash))
            signature = base64.b64encode(key.sign(shape.signed(headers, now, body_hash)))
            signatures.append(
                b"DKIM-Signature: "
                + shape.field(now, body_hash)
                + _fold_base64(signature, shape.column)
                + CRLF
            )
        return b"".join(signatures) + data

    def _head_shape(
        self, index: int, names: tuple[bytes, ...], time_length: int, hash_length: int
    ) -> HeadShape:
        """Key `index`'s `DKIM-Signature` for a header block with these field names.

        The field is written with `b=` empty, hashed in exactly that (canonical) form, then
        the signature is appended: what verifiers reconstruct by stripping the `b=` value.
        Selection goes by the lower-cased `names` (simple canonicalization keeps their case).
        """
        cache_key = (index, names, time_length, hash_length)
        shape = self._shapes.get(cache_key)
        if shape is not None:
            return shape
        key = self._keys[index]
        signed_names = key.header_names or _default_header_names(list(names))

        def fold(now: bytes, body_hash: bytes) -> bytes:
            return _fold_tags(
                [
                    (b"v", [b"1"]),
                    (b"a", [key.algorithm]),
                    (b"c", [key.canonicalization]),
                    (b"d", [key.domain]),
                    (b"s", [key.selector]),
                    (b"t", [now]),
                    (b"h", _colon_joined(signed_names)),
                    (b"bh", [body_hash]),
                ]
            )

        def canonicalize_own(head: bytes) -> bytes:
            own = key.policy.canonicalize_headers([(b"DKIM-Signature", b" " + head)])[0]
            return bytes(own[0] + b":" + own[1].rstrip())

        shape = head_shape(names, signed_names, fold, canonicalize_own, time_length, hash_length)
        if len(self._shapes) >= MAX_ENTRIES:
            self._shapes.clear()
        self._shapes[cache_key] = shape
        return shape


def generate_dkim_key(
    selector: str,
    domain: str,
    algorithm: Literal["rsa", "ed25519"] = "rsa",
    bits: int = 2048,
) -> tuple[str, str]:
    """A new DKIM key: (unencrypted PKCS#8 PEM private key, DNS TXT record value).

    The record goes at `dns_record_name(selector, domain)`. Ed25519 records carry the raw 32-byte
    public key (RFC 8463); RSA records the SubjectPublicKeyInfo DER, as every verifier expects.
    """
    require_cryptography("dkim")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    dns_record_name(selector, domain)  # validates both names before the (slow) key generation
    key: Any
    if algorithm == "rsa":
        if not MIN_RSA_BITS <= bits <= MAX_RSA_BITS:
            raise ValueError(
                f"RSA DKIM keys must be {MIN_RSA_BITS}–{MAX_RSA_BITS} bits (2048 is usual)"
            )
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    elif algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    else:
        raise ValueError(f"unknown DKIM algorithm {algorithm!r}: use 'rsa' or 'ed25519'")
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    record = f"v=DKIM1; k={algorithm}; p={base64.b64encode(public).decode('ascii')}"
    return pem, record


def dns_record_name(selector: str, domain: str) -> str:
    """`selector._domainkey.domain` (punycode), where the public key is published."""
    return f"{_check_selector(selector)}._domainkey.{_ascii_domain(domain)}"


def txt_strings(value: str, size: int = 255) -> list[str]:
    """Split a TXT value into ≤255-octet strings: one DNS TXT string cannot be longer, so RSA
    records are published as several quoted strings that resolvers concatenate."""
    return [value[i : i + size] for i in range(0, len(value), size)] or [""]


# --- loading -------------------------------------------------------------------------------


def _load_signing_key(options: DkimOptions) -> _SigningKey:
    """Validate names and parse the key once; every failure is a ValueError naming the key."""
    policy = _policy(options.canonicalization)  # the install hint first: dkimpy does it all
    require_cryptography("dkim")
    secret = options.private_key.get_secret_value()
    if is_pem(secret) or _RAW_ED25519.match(secret.strip()):
        register_secret(secret.strip())  # inline key text: scrub it from any error, ever
    try:
        domain = _ascii_domain(options.domain_name)
        selector = _check_selector(options.key_selector)
        names = _header_names(options.header_field_names)
        key = _parse_private_key(secret)
        algorithm, sign = _signing_function(key)
    except ValueError as exc:
        raise ValueError(f"DKIM key (selector {options.key_selector!r}): {exc}") from None
    return _SigningKey(
        domain=domain.encode("ascii"),
        selector=selector.encode("ascii"),
        algorithm=algorithm,
        header_names=names,
        sign=sign,
        canonicalization=policy.to_c_value(),
        policy=policy,
    )


def _policy(canonicalization: str) -> Any:
    """dkimpy's canonicalization policy for `header/body`, or the install hint when dkimpy is
    missing."""
    try:
        module = importlib.import_module("dkim.canonicalization")
    except ImportError:
        raise ValueError(f"DKIM signing needs dkimpy: {install_hint('dkim')}") from None
    return module.CanonicalizationPolicy.from_c_value(canonicalization.encode("ascii"))


def _parse_private_key(secret: str) -> PrivateKeyTypes:
    """PEM text, a path to a PEM (or DER) file, or dkimpy's raw base64 Ed25519 seed."""
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.hazmat.primitives.serialization import (
        load_der_private_key,
        load_pem_private_key,
    )

    text = secret.strip()
    if _RAW_ED25519.match(text):
        return ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(text))
    data = read_source(text, "privateKey")
    try:
        if is_pem(data):
            return load_pem_private_key(pem_blocks(data, PRIVATE_KEY_LABEL), password=None)
        return load_der_private_key(data, password=None)
    except TypeError:
        raise ValueError(
            "`privateKey` is encrypted; DKIM keys are used unencrypted "
            "(decrypt it with `openssl pkey -in key.pem -out plain.pem`)"
        ) from None
    except Exception:
        raise ValueError(unparsable_key_message(data)) from None


def _signing_function(key: PrivateKeyTypes) -> tuple[bytes, Callable[[bytes], bytes]]:
    """The DKIM `a=` value and a function signing the canonical header data with `key`."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(
                f"the RSA key has {key.key_size} bits; DKIM needs at least {MIN_RSA_BITS} "
                "(2048 recommended) and receivers ignore shorter keys"
            )
        rsa_key = key
        return RSA_SHA256, lambda data: rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ed25519.Ed25519PrivateKey):
        ed_key = key
        # RFC 8463: Ed25519 signs the SHA-256 hash of the canonical header data.
        return ED25519_SHA256, lambda data: ed_key.sign(hashlib.sha256(data).digest())
    kind = type(key).__name__.removeprefix("_").replace("PrivateKey", "") or "unsupported"
    raise ValueError(f"`privateKey` is a {kind} key; DKIM signs with RSA or Ed25519 keys only")


def _ascii_domain(name: str) -> str:
    """The signing domain in DNS (punycode) form, validated label by label."""
    text = name.strip().rstrip(".").lower()
    try:
        ascii_name = text if text.isascii() else text.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"`domainName` {name!r} is not a valid domain name") from None
    labels = ascii_name.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"`domainName` {name!r} is not a valid domain name (e.g. example.com)")
    return ascii_name


def _check_selector(selector: str) -> str:
    """A selector is one or more DNS labels (`s1`, `2024.mail`)."""
    text = selector.strip().lower()
    if not text or not all(_LABEL.match(label) for label in text.split(".")):
        raise ValueError(
            f"`keySelector` {selector!r} is not a valid selector (letters, digits, '-', '.')"
        )
    return text


def _header_names(value: list[str] | str | None) -> tuple[bytes, ...] | None:
    """`headerFieldNames` as a list or nodemailer's colon-separated string, lower-cased."""
    if value is None:
        return None
    items = value.split(":") if isinstance(value, str) else value
    names = [item.strip().lower() for item in items if item.strip()]
    bad = [name for name in names if not is_field_name(name)]
    if bad:
        raise ValueError(f"`headerFieldNames`: {bad[0]!r} is not a header field name")
    if "from" not in names:
        raise ValueError("`headerFieldNames` must include From (RFC 6376 requires signing it)")
    never = sorted({name for name in names if name.encode() in _NEVER_SIGNED})
    if never:
        raise ValueError(
            f"`headerFieldNames`: {never[0]!r} is added or changed in transit; signing it "
            "would break the signature"
        )
    return tuple(name.encode("ascii") for name in names)


# --- signature construction -----------------------------------------------------------------


def _default_header_names(names: list[bytes]) -> list[bytes]:
    """The recommended headers present (top down), then the over-signed singletons."""
    present = [name for name in names if name in DEFAULT_SIGNED_HEADERS]
    return present + list(OVERSIGNED_HEADERS)


def _colon_joined(names: Sequence[bytes]) -> list[bytes]:
    """`h=` pieces; folding may happen between them (FWS is allowed around ':')."""
    return [name + b":" for name in names[:-1]] + [names[-1]]


def _fold_tags(tags: list[tuple[bytes, list[bytes]]]) -> bytes:
    """`tag=value; ` pairs folded under 78 columns, ending with an empty `b=`.

    Each value is a list of pieces that may be separated by a fold but never by a space, so the
    relaxed form (which verifiers rebuild) is exactly what gets hashed.
    """
    out = bytearray()
    column = len(b"DKIM-Signature: ")
    for tag, pieces in [*tags, (b"b", [b""])]:
        last = tag == b"b"
        chunks = [tag + b"=" + pieces[0], *pieces[1:]]
        chunks[-1] += b"" if last else b";"
        for position, chunk in enumerate(chunks):
            gap = b"" if position or not out else b" "
            if column + len(gap) + len(chunk) > _FOLD_AT and out:
                out += CRLF + b" "
                column = 1
            elif gap:
                out += gap
                column += 1
            out += chunk
            column += len(chunk)
    return bytes(out)


def _fold_base64(signature: bytes, column: int) -> bytes:
    """The `b=` value, folded to the line width from `column`, where it starts on the field's
    last line (verifiers ignore FWS in b=)."""
    out = bytearray()
    while signature:
        room = _FOLD_AT - column
        if room <= 0:
            out += CRLF + b" "
            column = 1
            continue
        out += signature[:room]
        column += len(signature[:room])
        signature = signature[room:]
    return bytes(out)
