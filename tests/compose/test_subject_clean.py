"""The subject is one line without outer whitespace on every path, whatever the template and the
payload put around it: the printable subject's `strip()` written out in `_finish` gives what
`clean_header_text` gives (hypothesis, both compose paths)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smtp_connector import SmtpConnector
from smtp_connector.compose.rendering import clean_header_text

_pad = st.sampled_from(["", " ", "  ", "\t", " \u00a0", "\n", "\u2028"])
_code = st.text(alphabet="0123456789 \t\u00a0x", min_size=1, max_size=8)


@settings(max_examples=150, deadline=None)
@given(before=_pad, after=_pad, code=_code)
def test_a_subject_is_what_clean_header_text_makes_of_it(
    before: str, after: str, code: str
) -> None:
    raw = f"{before}Code {{{{ code }}}}{after}"
    template = {"usageType": "SignIn", "contentType": "text/plain", "subject": raw,
                "content": "Your code: {{ code }}"}  # fmt: skip
    connector = SmtpConnector(
        {"host": "127.0.0.1", "fromEmail": "a@example.com", "templates": [template]}
    )
    for _ in range(2):  # the first render composes the shape, the second fills it
        email = connector.render("SignIn", {"code": code})
        assert email.subject == clean_header_text(f"{before}Code {code}{after}")
