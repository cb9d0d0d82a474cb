"""A SecretBox whose keys are in `Fernet.generate_key()`'s form makes its Fernet on first use
(store/secrets.py), so `serve` starts without importing `cryptography`. It must behave as the
box that gave every key to Fernet at once: the same keys refused, at construction, with the same
error, and the same encryption and decryption for the keys it takes.

Hypothesis draws key lists from generated keys, the encodings of other byte lengths, and the
variants Fernet's own parsing accepts or refuses (unpadded, stray bits, spaces, `+/`, an extra
pad), and any text.
"""

from __future__ import annotations

import base64
import string

from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector import ConnectorError
from smtp_connector.store import secrets
from smtp_connector.store.secrets import SecretBox, is_generated_key

URLSAFE = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


def canonical(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def variant(raw: bytes, how: str) -> str:
    """A spelling of `raw` other than the generated one."""
    key = canonical(raw)
    if how == "unpadded":
        return key.rstrip("=")
    if how == "stray bits" and len(key) == 44:
        return key[:42] + URLSAFE[URLSAFE.index(key[42]) | 1] + "="
    if how == "standard alphabet":
        return base64.b64encode(raw).decode("ascii")
    if how == "inner space":
        return key[:10] + " " + key[10:]
    if how == "outer space":
        return " " + key + "\n"
    return key + "="  # an extra pad


RAW_32 = st.binary(min_size=32, max_size=32)
VARIANTS = ["unpadded", "stray bits", "standard alphabet", "inner space", "outer space", "pad"]
KEYS = st.one_of(
    RAW_32.map(canonical),
    st.binary(max_size=64).map(canonical),  # the generated form of another length
    st.builds(variant, RAW_32, st.sampled_from(VARIANTS)),
    st.text(max_size=60),
)


def eager_error(keys: list[str]) -> str | None:
    """The error of the box as it was: every key given to Fernet at construction."""
    try:
        secrets._multi_fernet(keys)
    except ConnectorError as error:
        return error.message
    return None


@settings(max_examples=400, deadline=None)
@given(KEYS)
def test_a_key_in_generated_form_is_one_fernet_accepts(key: str) -> None:
    if is_generated_key(key):
        Fernet(key.encode())  # raises if not


@settings(max_examples=300, deadline=None)
@given(st.lists(KEYS, min_size=1, max_size=3), st.text(max_size=40))
def test_the_box_refuses_and_encrypts_as_the_eager_box(keys: list[str], value: str) -> None:
    expected = eager_error(keys)
    try:
        box = SecretBox(keys)
    except ConnectorError as error:
        assert error.message == expected
        return
    assert expected is None  # taken: then it never fails later
    eager = secrets._multi_fernet(keys)
    token = box.encrypt(value)
    assert eager.decrypt(token.encode("ascii")).decode() == value
    assert box.decrypt(eager.encrypt(value.encode()).decode("ascii")) == value
    assert box.decrypt(box.rotate(token)) == value


def test_generated_keys_wait_and_others_are_checked_at_once() -> None:
    generated = Fernet.generate_key().decode()
    waiting = SecretBox([generated, Fernet.generate_key().decode()])
    assert waiting._built is None and repr(waiting) == "SecretBox(keys=2)"
    assert waiting.decrypt(waiting.encrypt("pw")) == "pw"
    assert waiting._built is not None
    checked = SecretBox([generated.rstrip("=")])  # unpadded: Fernet's parsing decides
    assert checked._built is not None
    assert generated not in repr(waiting) and generated not in str(vars(waiting).get("key_count"))


def test_a_key_made_for_the_key_file_is_a_generated_key_fernet_takes() -> None:
    made = {secrets._generate_key() for _ in range(50)}
    assert len(made) == 50
    for key in made:
        assert is_generated_key(key)
        assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
