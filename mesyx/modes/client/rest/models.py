"""The REST API's request and response bodies: the typed models its OpenAPI document is made of."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AccountInfo", "LoginRequest", "LoginResponse", "Mailbox", "MailboxCreate", "MailboxList", "MailboxRename"]

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
