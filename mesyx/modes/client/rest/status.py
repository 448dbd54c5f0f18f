"""``GET /v1/status``: this node and the bearer's account, as a client app's status page or
a monitoring probe wants them (what ``mesyx status`` and ``mesyx index status`` show,
limited to what a person logged in to one account may see: no other account, no paths).
Every number is read from the index (no decryption); the totals are one query.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from pydantic import BaseModel, Field

from mesyx import __version__
from mesyx.config import Config
from mesyx.crypto.encoding import b32
from mesyx.http.api import Call, NoBody
from mesyx.modes.client.rest.index import RestIndex
from mesyx.modes.client.rest.messages import when
from mesyx.modes.client.rest.routes import Need, RestApi, context_of
from mesyx.modes.client.rest.tokens import Session

__all__ = ["AccountStatus", "NodeStatus", "Status", "declare"]


class NodeStatus(BaseModel):
    """The node serving this API."""

    node_id: str = Field(description="the node's id (its signing key's digest)")
    hostname: str
    version: str = Field(description="the Mesyx version it runs")
    modes: list[str]
    started_at: datetime = Field(description="when this API started listening")
    ports: dict[str, int] = Field(description="the client listeners: imap, imaps, submission, smtps, rest")


class AccountStatus(BaseModel):
    """The bearer's account as this node's index has it."""

    account_id: str
    address: str
    mailboxes: int
    messages: int = Field(description="messages over every mailbox (one in two mailboxes counts twice)")
    unread: int
    size: int = Field(description="octets over every mailbox")
    cached: int = Field(description="messages whose headers the index holds (those that open here)")
    keysets: int = Field(description="keysets this login unlocked")
    sessions: int = Field(description="live REST tokens of the account")
    index_version: int = Field(description="grows with every change of the account's index")


class Status(BaseModel):
    node: NodeStatus
    account: AccountStatus


def declare(api: RestApi, index: RestIndex, need: Need, config: Config, sessions: Callable[[bytes], int]) -> None:
    """``GET /v1/status``; ``sessions`` counts an account's live tokens."""
    started = time.time()
    ports = config.ports
    node = NodeStatus(
        node_id=index.store.node.node_id, hostname=config.node.hostname, version=__version__,
        modes=sorted(m.value for m in config.node.modes), started_at=when(started),
        ports={"imap": ports.imap, "imaps": ports.imaps, "submission": ports.submission, "smtps": ports.smtps,
               "rest": ports.rest},
    )  # fmt: skip

    @api.json("GET", "/v1/status", summary="Node and account status", body=NoBody, response=Status, auth=True,
              tags=("session",))  # fmt: skip
    async def status(call: Call[NoBody, Session | None]) -> Status:
        """The node (id, version, modes, client ports, since when) and the account (its
        mailboxes, messages, unread and size over all of them, how many are cached,
        keysets unlocked, live tokens, the index version)."""
        session = need(call)
        context = context_of(session)
        await index.offload.sync(context.syncer)
        boxes = await index.offload.read(index.reader.mailboxes, context.account_id)
        cached = await index.offload.read(index.reader.cached_count, context.account_id)
        version = await index.offload.read(index.reader.version, context.account_id)
        record = session.account.record
        return Status(node=node, account=AccountStatus(
            account_id=b32(record.account_id), address=record.primary_address, mailboxes=len(boxes),
            messages=sum(b.messages for b in boxes), unread=sum(b.unseen for b in boxes),
            size=sum(b.size for b in boxes), cached=cached, keysets=len(context.account.keysets),
            sessions=sessions(record.account_id), index_version=version,
        ))  # fmt: skip
