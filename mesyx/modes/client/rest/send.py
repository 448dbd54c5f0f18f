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

Errors are problem details: a malformed address or message 400, a sender that is not the
account's 403, the account's budget spent 429, the store down 503.
"""

from __future__ import annotations

import asyncio
import email.policy
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from mesyx.addresses import check_address
from mesyx.errors import UsageError
from mesyx.http.api import Call
from mesyx.modes.client.rest.routes import Need, RestApi, context_of
from mesyx.modes.client.rest.tokens import Session
from mesyx.modes.client.submission.submit import Sender, Submitter

__all__ = ["SendRequest", "SendResult", "declare", "compose"]

_TAGS = ("send",)
#: Recipients one message may have, To, Cc and Bcc together.
MAX_RECIPIENTS: Final = 100
#: Characters of text one request may carry (the request body is bounded too).
MAX_TEXT: Final = 1_000_000


class SendRequest(BaseModel):
    """A message to send: plain text, to one or more recipients."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: str | None = Field(default=None, alias="from", min_length=3, max_length=320,
                              description="one of the account's addresses; the primary one when left out")
    to: list[str] = Field(min_length=1, max_length=MAX_RECIPIENTS, description="recipient addresses")
    cc: list[str] = Field(default_factory=list, max_length=MAX_RECIPIENTS)
    bcc: list[str] = Field(default_factory=list, max_length=MAX_RECIPIENTS,
                           description="recipients left out of the header (RFC 5322 section 3.6.3)")
    subject: str = Field(default="", max_length=998)
    text: str = Field(max_length=MAX_TEXT, description="the body, plain text")
    in_reply_to: str | None = Field(default=None, max_length=998,
                                    description="the Message-ID this answers (In-Reply-To and References)")


class SendResult(BaseModel):
    """What became of the message."""

    id: str = Field(description="the submission's transaction id (in the local recipients' Received field)")
    message_id: str = Field(description="the Message-ID the message was sent with")
    local: int = Field(description="recipients who are accounts of this node: delivered")
    external: int = Field(description="other recipients: in the outbox item for the outbound relay")


def compose(request: SendRequest, sender: str, hostname: str) -> tuple[bytes, list[str], str]:
    """``(RFC 5322 bytes, envelope recipients, Message-ID)``; UsageError for a bad address
    or a header value that would break the message (a line break in the subject)."""
    recipients = [*request.to, *request.cc, *request.bcc]
    if len(recipients) > MAX_RECIPIENTS:
        raise UsageError(f"at most {MAX_RECIPIENTS} recipients in all")
    for address in (sender, *recipients):
        check_address(address)
    if any(c in request.subject for c in "\r\n") or (request.in_reply_to and
                                                     any(c in request.in_reply_to for c in "\r\n")):
        raise UsageError("a header value cannot hold a line break")
    message = EmailMessage(policy=email.policy.SMTP)
    message_id = make_msgid(domain=hostname)
    message["From"] = sender
    message["To"] = ", ".join(request.to)
    if request.cc:
        message["Cc"] = ", ".join(request.cc)
    message["Subject"] = request.subject
    message["Message-ID"] = message_id
    if request.in_reply_to:
        message["In-Reply-To"] = request.in_reply_to
        message["References"] = request.in_reply_to
    message.set_content(request.text)
    return message.as_bytes(), recipients, message_id


def declare(api: RestApi, submitter: Submitter, need: Need, hostname: str) -> None:
    """``POST /v1/send``."""

    @api.json("POST", "/v1/send", summary="Send a message (as SMTP submission would)", body=SendRequest,
              response=SendResult, auth=True, problems=(400, 403, 429), tags=_TAGS)  # fmt: skip
    async def send(call: Call[SendRequest, Session | None]) -> SendResult:
        """Local recipients get it at once; others through the outbound relay's outbox;
        a copy lands in the sender's Sent mailbox. All of it is stored, or none."""
        context = context_of(need(call))
        sender = Sender(context.account, context.syncer)
        mail_from = call.body.from_ or context.account.record.primary_address
        # Composing a megabyte of text (transfer encoding, line lengths) is work for a thread.
        raw, recipients, message_id = await asyncio.to_thread(compose, call.body, mail_from, hostname)
        await submitter.check_sender(sender, mail_from)
        submitted = await submitter.send(sender, mail_from, recipients, raw, client_ip=call.request.remote or "",
                                         helo="rest", tls=call.request.secure)
        return SendResult(id=submitted.transaction_id, message_id=message_id, local=submitted.local,
                          external=submitted.external)
