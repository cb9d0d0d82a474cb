"""The remembered key of TLS options that set nothing but `rejectUnauthorized` (tls.py
`_cache_key`, taken once per server at every connector build) is the digest the general path
gives, for those options and for every other: a fast path that ignored an option would hand a
server another's SSL context (its CA, client certificate, versions or ciphers)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector.config import TlsOptions
from smtp_connector.delivery import tls

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "rejectUnauthorized": st.booleans(),
    "ca": st.sampled_from([PEM, [PEM], [], "/etc/ssl/ca.pem"]),
    "servername": st.just("mail.example.org"),
    "minVersion": st.sampled_from(["TLSv1.2", "TLSv1.3"]),
    "maxVersion": st.sampled_from(["TLSv1.2", "TLSv1.3"]),
    "ciphers": st.sampled_from(["ECDHE+AESGCM", ""]),
    "passphrase": st.sampled_from(["pass-phrase-1", ""]),
    "pfx": st.just("MIIKcQIBAzCCCjcGCSqG"),
    "ecdhCurve": st.just("auto"),  # an unknown Node option: kept, unused
}
PAIR = st.sampled_from([{}, {"cert": PEM, "key": KEY}, {"cert": PEM, "key": "/etc/ssl/k.pem"}])


@settings(max_examples=300, deadline=None)
@given(
    data=st.fixed_dictionaries({}, optional=OPTIONAL),
    pair=PAIR,
    allow_files=st.booleans(),
    ciphers=st.sampled_from([None, "HIGH"]),
)
def test_the_remembered_key_is_the_digest(
    data: dict[str, Any], pair: dict[str, str], allow_files: bool, ciphers: str | None
) -> None:
    if "pfx" in data and pair:
        pair = {}  # refused together
    options = TlsOptions.model_validate(data | pair)
    for _ in range(2):  # the second from what the first remembered
        assert tls._cache_key(options, allow_files) == tls._digest_key(options, allow_files)
    options.ciphers = ciphers  # a config model changed after a build
    assert tls._cache_key(options, allow_files) == tls._digest_key(options, allow_files)
