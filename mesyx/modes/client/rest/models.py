"""The REST API's request and response bodies: the typed models its OpenAPI document is made of."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccountInfo",
    "AttachmentInfo",
    "Header",
    "MessageDetail",
    "DeleteQuery",
    "KeywordsChange",
    "LoginRequest",
    "LoginResponse",
    "Mailbox",
    "MailboxCreate",
    "MailboxList",
    "MailboxRename",
    "MessagePage",
    "MessageState",
    "MessageSummary",
    "MessagesQuery",
    "MoveRequest",
    "Placement",
]

#: RFC 5321 section 4.5.3.1.3: a path (address) is at most 256 octets.
MAX_ADDRESS: int = 256
#: Passphrases are for people; 1 KiB is far above any that one types.
MAX_SECRET: int = 1024


class LoginRequest(BaseModel):
    """``POST /v1/login``: an address of the account and its passphrase or an app password."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(min_length=3, max_length=MAX_ADDRESS, description="any address of the account")
    password: str = Field(min_length=1, max_length=MAX_SECRET, description="the passphrase or an app password")


class LoginResponse(BaseModel):
    """A bearer token (RFC 6750) and when it stops working."""

    token: str = Field(description="send as Authorization: Bearer <token>")
    expires_at: datetime = Field(description="RFC 3339 time after which the token is refused")


class AccountInfo(BaseModel):
    """Who the bearer is."""

    account_id: str = Field(description="the account's opaque id, base32")
    address: str = Field(description="the primary address")
    addresses: list[str] = Field(description="every address of the account, primary first")
    expires_at: datetime = Field(description="when this token stops working")


# -- mailboxes --------------------------------------------------------------------------

#: The longest mailbox path the index takes (:data:`mesyx.modes.client.index.writer.MAX_PATH`).
MAX_MAILBOX_PATH: int = 1000
#: A mailbox path as the index takes it: no control character, '*' or '%' (IMAP LIST's
#: wildcards, RFC 9051 section 6.3.9), and at least one level that is not empty.
MAILBOX_PATH_PATTERN: str = r"^[^\x00-\x1f\x7f*%]*[^\x00-\x1f\x7f*%/][^\x00-\x1f\x7f*%]*$"
#: The special uses a created mailbox may take over (the inbox's stays where it is).
MovableRole = Literal["sent", "drafts", "trash", "junk", "archive"]


class Mailbox(BaseModel):
    """One mailbox (JMAP's Mailbox, RFC 8621 section 2, as far as the index knows it)."""

    id: str = Field(description="the mailbox's id, stable across renames")
    name: str = Field(description="its own name, the last part of its path")
    path: str = Field(description="its full name, levels separated by '/'")
    parent_id: str | None = Field(description="the mailbox it is in, or null at the top")
    role: str | None = Field(description="special use (RFC 6154 without the backslash): inbox, sent, drafts, ...")
    total: int = Field(description="messages in it")
    unread: int = Field(description="messages in it without the $seen keyword")
    size: int = Field(description="octets of its messages")
    modseq: int = Field(description="its highest modification sequence (RFC 7162): grows with every change")


class MailboxList(BaseModel):
    """Every mailbox of the account, sorted by path."""

    mailboxes: list[Mailbox]


class MailboxCreate(BaseModel):
    """``POST /v1/mailboxes``: a new mailbox (missing parents are created too)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=MAX_MAILBOX_PATH, pattern=MAILBOX_PATH_PATTERN,
                      description="full name, levels separated by '/'")
    role: MovableRole | None = Field(default=None, description="move this special use here")


class MailboxRename(BaseModel):
    """``PATCH /v1/mailboxes/{id}``: a new full name (it may move the mailbox to another parent)."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=MAX_MAILBOX_PATH, pattern=MAILBOX_PATH_PATTERN,
                      description="the new full name")


# -- messages ---------------------------------------------------------------------------

#: A keyword as both IMAP and JMAP hold it (RFC 8621 section 4.1.1): printable ASCII
#: without ( ) { ] % * " \ (:func:`mesyx.store.keywords.check_keyword`).
KEYWORD_PATTERN: str = r"^[!#$&'+,\-./0-9:;<=>?@A-Z\[^_`a-z|}~]{1,255}$"
#: Keywords one request may set or clear.
MAX_KEYWORDS: int = 64
#: A page of a listing holds at most this many messages.
MAX_PAGE: int = 200
#: A listing's cursor: 16 bytes, base64url (:func:`.queries.encode_cursor`).
CURSOR_PATTERN: str = r"^[A-Za-z0-9_-]{22}$"

Keyword = Annotated[str, Field(pattern=KEYWORD_PATTERN, max_length=255)]


class Placement(BaseModel):
    """A mailbox that holds the message, and the message's IMAP UID there."""

    mailbox_id: str
    uid: int


class MessageSummary(BaseModel):
    """One message of a listing; subject, from, to and date come from the node's header
    cache (no decryption), and are null for a message that does not open here now."""

    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    id: str = Field(description="the message's envelope id, base32: the same in every mailbox")
    uid: int = Field(description="its IMAP UID in this mailbox")
    keywords: list[str] = Field(description="JMAP keywords: $seen, $flagged, $answered, $draft, $deleted, ...")
    received_at: datetime = Field(description="when it arrived (IMAP INTERNALDATE)")
    size: int = Field(description="octets of the message")
    available: bool = Field(description="false: its keyset is detached on this node, the content does not open")
    subject: str | None = None
    from_: str | None = Field(default=None, alias="from", description="the From field, decoded")
    to: str | None = Field(default=None, description="the To field, decoded")
    date: datetime | None = Field(default=None, description="the Date field, when it parses")


class MessagePage(BaseModel):
    """One page of a mailbox's messages."""

    messages: list[MessageSummary]
    total: int = Field(description="messages in the mailbox")
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null on the last one")


class MessagesQuery(BaseModel):
    """``GET /v1/mailboxes/{id}/messages``: which page, in which order."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="messages per page")
    order: Literal["asc", "desc"] = Field(default="desc", description="by received date: newest first by default")
    cursor: str | None = Field(default=None, pattern=CURSOR_PATTERN, description="next_cursor of the page before")
    offset: int = Field(default=0, ge=0, le=1_000_000, description="messages to skip (ignored with a cursor)")


class MessageState(BaseModel):
    """Where a message is and its keywords (the answer to a change)."""

    id: str
    mailboxes: list[Placement] = Field(description="every mailbox holding it, with its UID there")
    keywords: list[str]
    received_at: datetime
    size: int


class KeywordsChange(BaseModel):
    """``PATCH /v1/messages/{id}/keywords``: keywords to set and to clear (clear wins)."""

    model_config = ConfigDict(extra="forbid")

    set: list[Keyword] = Field(default_factory=list, max_length=MAX_KEYWORDS)
    clear: list[Keyword] = Field(default_factory=list, max_length=MAX_KEYWORDS)


class MoveRequest(BaseModel):
    """``POST /v1/messages/{id}/move``: from one mailbox to another."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: str = Field(min_length=1, max_length=128, description="the mailbox it goes to")
    from_: str | None = Field(default=None, alias="from", min_length=1, max_length=128,
                              description="the mailbox it leaves; may be left out when it is in one only")


class DeleteQuery(BaseModel):
    """``DELETE /v1/messages/{id}``: from one mailbox, or (without) from every mailbox."""

    model_config = ConfigDict(extra="forbid")

    mailbox: str | None = Field(default=None, min_length=1, max_length=128,
                                description="take it out of this mailbox only (IMAP EXPUNGE there)")


# -- one message, decrypted -------------------------------------------------------------


class Header(BaseModel):
    """One header field, unfolded and RFC 2047-decoded."""

    name: str
    value: str


class AttachmentInfo(BaseModel):
    """A part to download (``GET /v1/messages/{id}/parts/{part}``)."""

    part: str = Field(description="its IMAP part number: 2, 1.3 (RFC 9051 section 6.4.5)")
    content_type: str
    filename: str | None
    size: int = Field(description="octets as stored (before base64 or quoted-printable is undone)")
    disposition: str | None = Field(description="inline or attachment, as the message says (RFC 2183)")


class MessageDetail(MessageState):
    """A message decrypted: its headers, the text and HTML to show, and its attachments."""

    model_config = ConfigDict(serialize_by_alias=True, populate_by_name=True)

    headers: list[Header]
    subject: str | None
    from_: str | None = Field(alias="from")
    to: str | None
    cc: str | None
    date: str | None = Field(description="the Date field as written")
    message_id: str | None
    text: str | None = Field(description="the plain text to show, decoded")
    html: str | None = Field(description="the HTML to show, decoded: sanitise it before rendering")
    truncated: bool = Field(description="text or html was longer than the API returns: fetch /raw for all")
    attachments: list[AttachmentInfo]
