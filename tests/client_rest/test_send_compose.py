"""``POST /v1/send``'s message: what compose writes is a message the submission path accepts."""

from __future__ import annotations

import email
import email.policy

import pytest
from pydantic import ValidationError

from mesyx.errors import UsageError
from mesyx.modes.client.rest.send import MAX_RECIPIENTS, SendRequest, compose
from mesyx.modes.client.submission.message import complete_message


def _request(**fields: object) -> SendRequest:
    return SendRequest.model_validate({"to": ["bob@example.org"], "text": "hello\n", **fields})


def test_compose_writes_a_complete_message_with_bcc_left_out() -> None:
    request = _request(cc=["carol@example.org"], bcc=["dave@example.org"], subject="Grüße, Bob",
                       text="Zeile eins\nZeile zwei\n", in_reply_to="<1@example.org>")
    raw, recipients, message_id = compose(request, "alice@mesyx.test", "mail.mesyx.test")
    assert recipients == ["bob@example.org", "carol@example.org", "dave@example.org"]
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF lines only
    assert b"dave@example.org" not in raw  # Bcc: envelope only (RFC 5322 section 3.6.3)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["From"] == "alice@mesyx.test" and parsed["Cc"] == "carol@example.org"
    assert parsed["Subject"] == "Grüße, Bob" and parsed["Message-ID"] == message_id
    assert parsed["In-Reply-To"] == "<1@example.org>" and message_id.endswith("@mail.mesyx.test>")
    assert parsed.get_content().replace("\r\n", "\n") == "Zeile eins\nZeile zwei\n"
    assert complete_message(raw, hostname="mail.mesyx.test", now=0).endswith(raw)  # the submission path takes it


@pytest.mark.parametrize("fields", [
    {"to": ["not an address"]},
    {"bcc": ["@x"]},
    {"subject": "two\r\nBcc: eve@example.org"},
    {"in_reply_to": "<a>\nX-Injected: 1"},
    {"subject": "form\x0cfeed"},
    {"subject": "next\u2028line"},
    {"text": "a lone surrogate \udc00 (valid JSON, no UTF-8)"},
    {"cc": [f"c{i}@example.org" for i in range(MAX_RECIPIENTS + 1)]},
])
def test_the_schema_refuses_what_would_break_the_message(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _request(**fields)


def test_compose_never_writes_a_line_break_into_a_header() -> None:
    """A request built in code skips the schema: compose refuses it all the same."""
    request = _request().model_copy(update={"subject": "two\r\nBcc: eve@example.org"})
    with pytest.raises(UsageError):
        compose(request, "alice@mesyx.test", "h.test")

