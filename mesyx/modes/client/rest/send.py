"""``POST /v1/send``: send a message, the same path as SMTP submission.

Issue 4: "send (same path as submission)". The request is a message a program can write
without knowing RFC 5322 (sender, recipients, subject, text); this module composes it
(``email`` with the SMTP policy: CRLF lines, RFC 2047 for non-ASCII subjects and names,
quoted-printable or base64 for the text as needed), and the client mode's
:class:`~mesyx.modes.client.submission.submit.Submitter` does everything else, exactly as
for a message submitted over SMTP: the sender must be one of the account's addresses and
within its budget (``check_sender``), ``Date`` and ``Message-ID`` are added, local
recipients get it through the accept pipeline, others become one outbox item, and a copy
lands in Sent, all in one commit (``send``). ``Bcc`` recipients are in the envelope and
not in the header (RFC 5322 section 3.6.3).

Errors are problem details. What the schema can say it says (addresses have the shape
:data:`mesyx.addresses.ADDRESS_PATTERN`, header values hold no line break, sizes), so a
request it allows is not refused for its form (422 otherwise); a sender that is not one of
the account's addresses is 403, the account's budget spent 429, the store down 503.
"""

from __future__ import annotations

import asyncio
import email.policy
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from mesyx.addresses import ADDRESS_PATTERN
from mesyx.errors import PermissionDenied, UsageError
from mesyx.http.api import Call
from mesyx.modes.client.rest.routes import Need, RestApi, context_of
from mesyx.modes.client.rest.tokens import Session
from mesyx.modes.client.submission.submit import Sender, Submitter

__all__ = ["SendRequest", "SendResult", "declare", "compose"]

_TAGS = ("send",)
#: Recipients in each of To, Cc and Bcc.
MAX_RECIPIENTS: Final = 100
#: Characters of text one request may carry.
MAX_TEXT: Final = 100_000
#: The largest body a schema-valid request can have: JSON may write a character as 12
#: octets (a surrogate pair of ``\uXXXX`` escapes), and 300 addresses of 254 characters.
MAX_BODY: Final = 12 * (MAX_TEXT + 3 * MAX_RECIPIENTS * 256 + 2 * 1000) + 4096
#: A header value: no control character but HT, and none of what ``str.splitlines`` (and
#: so the ``email`` package) takes for a line break: NEL, LINE and PARAGRAPH SEPARATOR.
_ONE_LINE = "^[^\\x00-\\x08\\x0a-\\x1f\\x7f\u0085\u2028\u2029]*$"
Address = Annotated[str, Field(min_length=3, max_length=254, pattern=ADDRESS_PATTERN)]


class SendRequest(BaseModel):
    """A message to send: plain text, to one or more recipients."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: Address | None = Field(default=None, alias="from",
                                  description="one of the account's addresses; the primary one when left out")
    to: list[Address] = Field(min_length=1, max_length=MAX_RECIPIENTS, description="recipient addresses")
    cc: list[Address] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    bcc: list[Address] = Field(default_factory=list, max_length=MAX_RECIPIENTS,
                               description="recipients left out of the header (RFC 5322 section 3.6.3)")
    subject: str = Field(default="", max_length=998, pattern=_ONE_LINE)
    text: str = Field(max_length=MAX_TEXT, description="the body, plain text")
    in_reply_to: str | None = Field(default=None, max_length=998, pattern=_ONE_LINE,
                                    description="the Message-ID this answers (In-Reply-To and References)")


class SendResult(BaseModel):
    """What became of the message."""

    id: str = Field(description="the submission's transaction id (in the local recipients' Received field)")
    message_id: str = Field(description="the Message-ID the message was sent with")
    local: int = Field(description="recipients who are accounts of this node: delivered")
    external: int = Field(description="other recipients: in the outbox item for the outbound relay")


def compose(request: SendRequest, sender: str, hostname: str) -> tuple[bytes, list[str], str]:
    """``(RFC 5322 bytes, envelope recipients, Message-ID)``. The request's schema already
    holds header values to one line; a line break that reaches here (a request built in
    code) is a UsageError, never a header injected."""
    recipients = [*request.to, *request.cc, *request.bcc]
    subject, in_reply_to, text = request.subject, request.in_reply_to or "", request.text
    if any(len(value.splitlines()) > 1 or "\r" in value or "\n" in value for value in (subject, in_reply_to)):
        raise UsageError("a header value cannot hold a line break")
    message = EmailMessage(policy=email.policy.SMTP)
    message_id = make_msgid(domain=hostname)
    message["From"] = sender
    message["To"] = ", ".join(request.to)
    if request.cc:
        message["Cc"] = ", ".join(request.cc)
    message["Subject"] = subject
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(text)
    return message.as_bytes(), recipients, message_id


def declare(api: RestApi, submitter: Submitter, need: Need, hostname: str) -> None:
    """``POST /v1/send``."""

    @api.json("POST", "/v1/send", summary="Send a message (as SMTP submission would)", body=SendRequest,
              response=SendResult, auth=True, problems=(403, 429), tags=_TAGS, max_body=MAX_BODY)  # fmt: skip
    async def send(call: Call[SendRequest, Session | None]) -> SendResult:
        """Local recipients get it at once; others through the outbound relay's outbox;
        a copy lands in the sender's Sent mailbox. All of it is stored, or none."""
        context = context_of(need(call))
        sender = Sender(context.account, context.syncer)
        mail_from = call.body.from_ or context.account.record.primary_address
        # Composing a megabyte of text (transfer encoding, line lengths) is work for a thread.
        raw, recipients, message_id = await asyncio.to_thread(compose, call.body, mail_from, hostname)
        try:
            await submitter.check_sender(sender, mail_from)
        except UsageError:  # a shape the schema allows and the directory does not (a local part > 64)
            raise PermissionDenied("the sender address is not an address of the authenticated account") from None
        submitted = await submitter.send(sender, mail_from, recipients, raw, client_ip=call.request.remote or "",
                                         helo="rest", tls=call.request.secure)
        return SendResult(id=submitted.transaction_id, message_id=message_id, local=submitted.local,
                          external=submitted.external)
