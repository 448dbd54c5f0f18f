"""Index reads the REST API needs and IMAP does not: a page of a mailbox by received date,
and where one message is. Prebuilt statements with bound parameters, as in
:mod:`mesyx.modes.client.index.reader` (building one per call costs SQLAlchemy more than
running it); they belong there, and move there once that module takes them.

Paging (``GET /v1/mailboxes/{id}/messages``): the order is (received date, UID), which is
total within a mailbox, so a cursor (the last item's pair) resumes exactly where the page
ended even while messages arrive or leave, unlike an offset; an offset is offered too,
for clients that jump to a page. One page is one query of at most ``limit + 1`` rows.
"""

from __future__ import annotations

import base64
import binascii
import math
import struct
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import BindParameter, Engine, Select, and_, bindparam, func, or_, select

from mesyx.modes.client.index import schema as x
from mesyx.modes.client.index.db import chunked
from mesyx.store.engine import read_transaction
from mesyx.store.keywords import decode_keywords

__all__ = ["Order", "Place", "Row", "count", "decode_cursor", "encode_cursor", "envelopes_of", "page", "places"]

Order = Literal["asc", "desc"]

_m, _b, _u = x.index_messages, x.index_mailboxes, x.index_uids
_CURSOR: Final = struct.Struct(">dq")
#: The largest UID an index hands out (IMAP UIDs are 32-bit, RFC 9051 section 2.3.1.1).
_MAX_UID: Final = (1 << 32) - 1


@dataclass(frozen=True)
class Row:
    """One message of a mailbox, as a listing shows it."""

    mailbox_id: str
    uid: int
    envelope_id: bytes
    keywords: tuple[str, ...]
    received_at: float
    size: int
    available: bool


#: Where a message is: one row per mailbox that holds it.
Place = Row

_COLUMNS = (_m.c.mailbox_id, _m.c.uid, _m.c.envelope_id, _m.c.keywords, _m.c.received_at, _m.c.size,
            _m.c.available)  # fmt: skip
_IN_MAILBOX = and_(_m.c.account_id == bindparam("account_id"), _m.c.mailbox_id == bindparam("mailbox_id"))
_AT: BindParameter[float] = bindparam("at")
_UID: BindParameter[int] = bindparam("uid")


def _ordered(order: Order, after: bool) -> Select[Any]:
    query = select(*_COLUMNS).where(_IN_MAILBOX)
    if order == "asc":
        if after:
            query = query.where(or_(_m.c.received_at > _AT, and_(_m.c.received_at == _AT, _m.c.uid > _UID)))
        query = query.order_by(_m.c.received_at, _m.c.uid)
    else:
        if after:
            query = query.where(or_(_m.c.received_at < _AT, and_(_m.c.received_at == _AT, _m.c.uid < _UID)))
        query = query.order_by(_m.c.received_at.desc(), _m.c.uid.desc())
    query = query.limit(bindparam("limit"))
    return query if after else query.offset(bindparam("offset"))


_PAGES: Final[dict[tuple[Order, bool], Select[Any]]] = {
    (order, after): _ordered(order, after) for order in ("asc", "desc") for after in (False, True)
}
_PLACES = (
    select(*_COLUMNS)
    .join(_b, and_(_b.c.account_id == _m.c.account_id, _b.c.mailbox_id == _m.c.mailbox_id))
    .where(_m.c.account_id == bindparam("account_id"), _m.c.envelope_id == bindparam("envelope_id"),
           _b.c.present.is_(True))
    .order_by(_b.c.path)
)  # fmt: skip

#: The envelope a UID names (or named: the UID map keeps the latest UID of each envelope
#: in a mailbox, so an expunged message is still found), on the unique (mailbox, uid) index.
_ENVELOPES_OF = select(_u.c.uid, _u.c.envelope_id).where(
    _u.c.account_id == bindparam("account_id"), _u.c.mailbox_id == bindparam("mailbox_id"),
    _u.c.uid.in_(bindparam("uids", expanding=True)),
)

#: One mailbox's messages, on the primary key: what :meth:`IndexReader.mailbox` counts
#: for every mailbox of the account at once (a pass over all its messages).
_COUNT = select(func.count()).where(_IN_MAILBOX)


def _row(r: Any) -> Row:
    mailbox_id, uid, eid, words, received, size, available = r
    return Row(str(mailbox_id), int(uid), bytes(eid), decode_keywords(words), float(received), int(size),
               bool(available))  # fmt: skip


def encode_cursor(row: Row) -> str:
    """The opaque cursor after ``row``: its (received date, UID), base64url."""
    return base64.urlsafe_b64encode(_CURSOR.pack(row.received_at, row.uid)).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> tuple[float, int] | None:
    """The position a cursor names; None if it does not decode. Any 16 bytes name some
    position (a page after it, maybe empty), so a forged cursor is no error."""
    try:
        at, uid = _CURSOR.unpack(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, struct.error, ValueError):
        return None
    return (0.0 if math.isnan(at) else at), max(0, min(int(uid), _MAX_UID))


def page(engine: Engine, account_id: bytes, mailbox_id: str, *, order: Order, limit: int,
         after: tuple[float, int] | None = None, offset: int = 0) -> list[Row]:
    """Up to ``limit`` messages of a mailbox in ``order`` of (received date, UID), after
    the position ``after`` or from ``offset``."""
    params: dict[str, Any] = {"account_id": account_id, "mailbox_id": mailbox_id, "limit": limit}
    if after is not None:
        params["at"], params["uid"] = after
    else:
        params["offset"] = offset
    with read_transaction(engine) as conn:
        return [_row(r) for r in conn.execute(_PAGES[(order, after is not None)], params)]


def count(engine: Engine, account_id: bytes, mailbox_id: str) -> int:
    """How many messages one mailbox holds."""
    with read_transaction(engine) as conn:
        return int(conn.execute(_COUNT, {"account_id": account_id, "mailbox_id": mailbox_id}).scalar_one())


def places(engine: Engine, account_id: bytes, envelope_id: bytes) -> list[Row]:
    """Every present mailbox holding the message, by path (none: no such message here)."""
    with read_transaction(engine) as conn:
        return [_row(r) for r in conn.execute(_PLACES, {"account_id": account_id, "envelope_id": envelope_id})]


def envelopes_of(engine: Engine, account_id: bytes, mailbox_id: str, uids: list[int]) -> dict[int, bytes]:
    """The envelope id of each UID of a mailbox, expunged ones included (one query per
    :data:`~mesyx.modes.client.index.db.PARAM_CHUNK` UIDs)."""
    found: dict[int, bytes] = {}
    with read_transaction(engine) as conn:
        for chunk in chunked(sorted(set(uids))):
            params = {"account_id": account_id, "mailbox_id": mailbox_id, "uids": list(chunk)}
            found.update((int(uid), bytes(eid)) for uid, eid in conn.execute(_ENVELOPES_OF, params))
    return found
