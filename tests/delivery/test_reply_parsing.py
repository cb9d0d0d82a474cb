"""`parse_replies`' one-line fast path (a known code looked up, the reply built without its
`__init__`) against the general path it stands for (`_code` on every line, `Reply(...)`): over
generated server output — known and unknown codes, malformed and over-long lines, multi-line
replies, replies cut anywhere — both parse the same replies, stop at the same byte and raise
the same errors."""

from __future__ import annotations

from typing import Any

from aiosmtplib.errors import SMTPResponseException
from aiosmtplib.protocol import MAX_LINE_LENGTH
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smtp_connector.delivery import pipelining
from smtp_connector.delivery.pipelining import Reply, _code, _multiline, parse_replies

_SPACE = b" \t\r\n"


def _general(data: bytes, replies: list[Reply], wanted: int) -> int:
    """The parse before the fast path: every line through `_code`, every reply its `__init__`."""
    start = 0
    while len(replies) < wanted:
        end = data.find(b"\n", start)
        if end == -1:
            break
        if data[start + 3 : start + 4] != b"-":
            replies.append(Reply(_code(data, start, end), data[start + 4 : end].strip(_SPACE)))
            start = end + 1
            continue
        parsed = _multiline(data, start)
        if parsed is None:
            break
        replies.append(parsed[0])
        start = parsed[1]
    return start


def _outcome(parse: Any, data: bytes, wanted: int) -> Any:
    replies: list[Reply] = []
    try:
        used = parse(data, replies, wanted)
    except SMTPResponseException as error:
        return ("error", error.code, error.message, [(r.code, r._raw) for r in replies])
    return (used, [(r.code, r._raw, r.message, repr(r)) for r in replies])


line = st.builds(
    lambda code, sep, text, pad, ending: code + sep + text + b"x" * pad + ending,
    st.sampled_from([b"250", b"354", b"550", b"221", b"334", b"251", b"999", b"2500", b"25"]),
    st.sampled_from([b" ", b"-", b"", b"\t"]),
    st.one_of(st.binary(max_size=20), st.sampled_from([b"OK", b"2.0.0 Ok: queued", b" x "])),
    st.sampled_from([0, 0, 0, MAX_LINE_LENGTH - 8, MAX_LINE_LENGTH - 4, MAX_LINE_LENGTH]),
    st.sampled_from([b"\r\n", b"\n", b""]),
)
odd_line = st.sampled_from([b"abc ok\r\n", b" 25 ok\r\n", b"\r\n", b"25\r\n", b"2x0 ok\r\n"])


@settings(max_examples=500)
@given(
    lines=st.lists(st.one_of(line, odd_line), max_size=6),
    cut=st.integers(min_value=0, max_value=12),
    wanted=st.integers(min_value=0, max_value=6),
)
@example(lines=[b"250 OK\r\n", b"354 go\r\n"], cut=0, wanted=2)
@example(lines=[b"250" + b" " + b"x" * (MAX_LINE_LENGTH - 4) + b"\r\n"], cut=0, wanted=1)
@example(lines=[b"250" + b" " + b"x" * (MAX_LINE_LENGTH - 5) + b"\r\n"], cut=0, wanted=1)
@example(lines=[b"299 odd\r\n"], cut=0, wanted=1)
@example(lines=[b"250 \x0bok\x0c\r\n"], cut=0, wanted=1)
@example(lines=[b"abc ok\r\n"], cut=0, wanted=1)
@example(lines=[b"250 OK\r\n", b"250-a\r\n", b"250 b\r\n", b"354 go\r\n"], cut=0, wanted=4)
@example(lines=[b"250 OK\r\n", b"250 OK\r\n", b"250-a\r\n", b"250 b\r\n"], cut=3, wanted=3)
def test_the_fast_parse_reads_as_the_general_parse(
    lines: list[bytes], cut: int, wanted: int
) -> None:
    data = b"".join(lines)
    data = data[: len(data) - cut] if cut < len(data) else data
    assert _outcome(parse_replies, data, wanted) == _outcome(_general, data, wanted)


@settings(max_examples=200)
@given(
    bursts=st.lists(
        st.lists(st.one_of(line, odd_line), min_size=1, max_size=5), min_size=2, max_size=8
    ),
    wanted=st.lists(st.integers(min_value=1, max_value=6), min_size=3, max_size=3),
)
def test_lines_seen_before_read_as_the_first_time(
    bursts: list[list[bytes]], wanted: list[int]
) -> None:
    """The remembered lines (`_KNOWN`) and bursts (`_BURSTS`) give what a parse gives, burst
    after burst: the same lines again, the same code with other text, the same text cut
    elsewhere; a remembered burst read with room for fewer replies than it has."""
    pipelining._KNOWN.clear()
    pipelining._BURSTS.clear()
    # each burst three times: the second from known lines (and remembered whole), the third
    # from the remembered burst, each time with its own number of replies wanted
    for room, lines in [(room, lines) for room in wanted for lines in bursts]:
        data = b"".join(lines)
        assert _outcome(parse_replies, data, room) == _outcome(_general, data, room)


def test_a_burst_is_remembered_only_when_every_line_was() -> None:
    """A burst with a new line (a numbered queue id) is never remembered whole; one of known
    lines is, at most `MAX_BURSTS` of them, and emptied with the known lines."""
    pipelining._KNOWN.clear()
    pipelining._BURSTS.clear()
    for number in range(3):
        parse_replies(b"250 2.0.0 Ok: queued as %X\r\n250 2.1.0 Ok\r\n" % number, [], 2)
    assert not pipelining._BURSTS
    for number in range(2 * pipelining.MAX_BURSTS):
        data = b"250 OK\r\n" * (number % 5 + 1) + b"354 go\r\n" * (number // 5 + 1)
        parse_replies(data, [], 99)
        parse_replies(data, [], 99)
        assert len(pipelining._BURSTS) <= pipelining.MAX_BURSTS
    assert pipelining._BURSTS
    assert all(len(data) <= pipelining.MAX_BURST_BYTES for data in pipelining._BURSTS)
    long = b"250 " + b"x" * 500 + b"\r\n"
    for _ in range(2):  # a hostile server's long known lines: read, never remembered whole
        parse_replies(long * 5, [], 5)
    assert long * 5 not in pipelining._BURSTS
    data = b"250 OK\r\n354 go\r\n"
    parse_replies(data, [], 2)
    assert pipelining._BURSTS[data] == (
        pipelining._KNOWN[b"250 OK\r"],
        pipelining._KNOWN[b"354 go\r"],
    )
    for number in range(pipelining.MAX_KNOWN + 1):  # the known lines fill and are emptied
        parse_replies(b"250 %d\r\n" % number, [], 1)
    assert not pipelining._BURSTS or all(
        reply in pipelining._KNOWN.values()
        for burst in pipelining._BURSTS.values()
        for reply in burst
    )


def test_the_known_lines_stay_bounded() -> None:
    """A server that numbers its queue ids makes every final reply new: what is remembered is
    cleared when full, never grows past `MAX_KNOWN`, and reads the same afterwards."""
    pipelining._KNOWN.clear()
    pipelining._BURSTS.clear()
    for number in range(3 * pipelining.MAX_KNOWN):
        data = b"250 2.0.0 Ok: queued as %X\r\n250 2.1.0 Ok\r\n354 go\r\n" % number
        assert _outcome(parse_replies, data, 3) == _outcome(_general, data, 3)
        assert len(pipelining._KNOWN) <= pipelining.MAX_KNOWN
    assert b"250 2.1.0 Ok\r" in pipelining._KNOWN  # the constant line is known again


@given(line=st.binary(max_size=40), again=st.integers(min_value=1, max_value=3))
def test_a_remembered_reply_is_decoded_once(line: bytes, again: int) -> None:
    """A reply's text is decoded on its first read and kept (wire-11): a line the memo hands
    out for every message is decoded once, and reads as the decode of its bytes each time."""
    pipelining._KNOWN.clear()
    pipelining._BURSTS.clear()
    data = b"250 " + line.replace(b"\n", b" ") + b"\r\n"
    replies: list[Reply] = []
    for _ in range(again + 1):
        parse_replies(data, replies, len(replies) + 1)
    first = replies[0].message
    expected = data[4:-1].strip(_SPACE).decode("utf-8", "surrogateescape")
    assert all(reply is replies[0] for reply in replies)  # the memo's one object
    assert all(reply.message is first for reply in replies)  # decoded once
    assert first == expected
    assert Reply(250, data[4:-1].strip(_SPACE)).message == expected  # built by `__init__`
