"""``GET /v1/search``: a mailbox's messages whose header fields hold some text.

Matching is IMAP SEARCH's (RFC 9051 section 6.4.4, as :mod:`mesyx.proto.mime` implements
it for the IMAP server): a case-insensitive substring of the decoded field (RFC 2047
words and charsets undone, white space runs as one space); an address field matches as
its parsed list written back (``Display Name <mailbox@host>``), so a comment or odd
spacing inside an address does not hide it. ``q`` matches any of Subject, From, To and
Cc; ``from``, ``to`` and ``subject`` one field each, ``body`` the text; every parameter
given must match.

Header terms read only the header cache (no decryption), so such a search costs one
pass over the headers of the mailbox, newest first, in a worker thread, in chunks.
``body`` matches the decoded text parts (IMAP SEARCH BODY), which the cache does not
hold: the messages that pass the header terms are decrypted (batched,
:func:`~mesyx.modes.client.index.decrypt.open_envelopes`), at most
:data:`MAX_DECRYPTED` per request. A search stops at ``limit`` matches, after
:data:`MAX_SCANNED` messages or at that decryption budget, whichever comes first, and
then answers a ``next_cursor`` to continue from where it stopped (a page may so hold
fewer than ``limit`` matches and still not be the last).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from mesyx.http.api import Call, NoBody
from mesyx.modes.client.index import CachedMessage, IndexReader
from mesyx.modes.client.index.decrypt import Opened, open_envelopes
from mesyx.modes.client.rest import queries
from mesyx.modes.client.rest.index import IndexContext, RestIndex
from mesyx.modes.client.rest.messages import summary
from mesyx.modes.client.rest.models import CURSOR_PATTERN, MAX_PAGE, MessagePage
from mesyx.modes.client.rest.routes import Need, RestApi, context_of, parse_query
from mesyx.modes.client.rest.tokens import Session
from mesyx.proto.mime import ParsedMessage
from mesyx.proto.mime.address_text import address_search_text
from mesyx.proto.mime.text import fold
from mesyx.store.store import Store

__all__ = ["SearchQuery", "Terms", "declare", "matches", "MAX_DECRYPTED", "MAX_SCANNED"]

_TAGS = ("messages",)
#: Messages one request looks at, at most; past them it answers a cursor to go on.
MAX_SCANNED: Final = 20_000
#: Messages one request decrypts at most for a body search; past them, a cursor.
MAX_DECRYPTED: Final = 2_000
#: Messages read from the index per round (rows and their cached headers); fewer with
#: a body search, whose decryption dominates.
_CHUNK: Final = 500
_BODY_CHUNK: Final = 100
_ADDRESS_FIELDS: Final = frozenset({"from", "to", "cc"})
_ANY: Final = ("subject", "from", "to", "cc")


class SearchQuery(BaseModel):
    """``GET /v1/search``: where, what, and which page."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    mailbox: str = Field(min_length=1, max_length=128, description="the mailbox searched")
    q: str | None = Field(default=None, min_length=1, max_length=256, description="text in subject, from, to or cc")
    from_: str | None = Field(default=None, alias="from", min_length=1, max_length=256, description="text in From")
    to: str | None = Field(default=None, min_length=1, max_length=256, description="text in To")
    subject: str | None = Field(default=None, min_length=1, max_length=256, description="text in Subject")
    body: str | None = Field(default=None, min_length=1, max_length=256,
                             description="text in the body's text parts (decrypts: slower, see below)")
    limit: int = Field(default=50, ge=1, le=MAX_PAGE, description="matches per page")
    cursor: str | None = Field(default=None, pattern=CURSOR_PATTERN, description="next_cursor of the page before")


@dataclass(frozen=True)
class Terms:
    """What must match, folded once: (fields, needle) pairs, each one of the fields."""

    wanted: tuple[tuple[tuple[str, ...], str], ...]
    #: Text the body must hold (matched on the decrypted message), if asked.
    body: str | None = None

    @classmethod
    def of(cls, query: SearchQuery) -> Terms:
        pairs = [(_ANY, query.q), (("from",), query.from_), (("to",), query.to), (("subject",), query.subject)]
        return cls(tuple((fields, fold(text)) for fields, text in pairs if text is not None), query.body)


def _field_text(message: ParsedMessage, name: str) -> str | None:
    address = name in _ADDRESS_FIELDS
    text = address_search_text(message.header.get_all(name)) if address else message.search_text(name)
    return None if text is None else fold(text)


def matches(header: bytes, terms: Terms) -> bool:
    """Whether the header block ``header`` satisfies every term."""
    message = ParsedMessage(header)
    seen: dict[str, str | None] = {}

    def has(name: str, needle: str) -> bool:
        if name not in seen:
            seen[name] = _field_text(message, name)
        text = seen[name]
        return text is not None and needle in text

    return all(any(has(name, needle) for name in fields) for fields, needle in terms.wanted)


def _bodies_matching(store: Store, context: IndexContext, rows: list[queries.Row], needle: str) -> set[bytes]:
    """The envelopes among ``rows`` whose body text holds ``needle`` (decrypted here)."""
    return {o.envelope_id for o in open_envelopes(store, context.account, [r.envelope_id for r in rows])
            if isinstance(o, Opened) and ParsedMessage(o.raw).matches("body", needle)}  # fmt: skip


def scan(store: Store, reader: IndexReader, context: IndexContext, mailbox_id: str, terms: Terms, limit: int,
         after: tuple[float, int] | None) -> tuple[list[tuple[queries.Row, CachedMessage]], queries.Row | None]:
    """Up to ``limit`` matches, newest first, after ``after``; and the row to continue
    after (None when the mailbox is done). Blocking: run it in a worker thread."""
    found: list[tuple[queries.Row, CachedMessage]] = []
    size = _CHUNK if terms.body is None else _BODY_CHUNK
    scanned = decrypted = 0
    while scanned < MAX_SCANNED and decrypted < MAX_DECRYPTED:
        rows = queries.page(reader.engine, context.account_id, mailbox_id, order="desc", limit=size, after=after)
        if not rows:
            return found, None
        scanned += len(rows)
        cached = reader.cached(context.account_id, [r.envelope_id for r in rows])
        hits = [(r, cached[r.envelope_id]) for r in rows
                if r.envelope_id in cached and matches(cached[r.envelope_id].header, terms)]  # fmt: skip
        if terms.body is not None and hits:
            decrypted += len(hits)
            inside = _bodies_matching(store, context, [r for r, _ in hits], terms.body)
            hits = [(r, entry) for r, entry in hits if r.envelope_id in inside]
        for row, entry in hits:
            found.append((row, entry))
            if len(found) == limit:
                return found, row
        after = (rows[-1].received_at, rows[-1].uid)
        if len(rows) < size:
            return found, None
    return found, rows[-1]


def declare(api: RestApi, index: RestIndex, need: Need) -> None:
    """``GET /v1/search``."""

    @api.json("GET", "/v1/search", summary="Search a mailbox", body=NoBody, response=MessagePage, auth=True,
              problems=(404,), tags=_TAGS)  # fmt: skip
    async def search(call: Call[NoBody, Session | None]) -> MessagePage:
        """Messages of ``mailbox`` whose Subject, From, To or Cc holds ``q`` (and ``from``,
        ``to``, ``subject`` each theirs), newest first, matched as IMAP SEARCH does
        (case-insensitive, decoded); with none of them, every message. ``body`` searches
        the text parts, decrypting (at most 2,000 messages a request). ``next_cursor``
        continues; a page may hold fewer than ``limit`` matches when the search stopped
        after 20,000 messages (or 2,000 decrypted). ``total`` counts the mailbox."""
        context = context_of(need(call))
        query = parse_query(call.request, SearchQuery)
        await index.offload.sync(context.syncer)
        await index.offload.read(index.reader.mailbox, context.account_id, query.mailbox, counts=False)  # 404 if none
        total = await index.offload.read(queries.count, index.store.engine, context.account_id, query.mailbox)
        after = queries.decode_cursor(query.cursor) if query.cursor is not None else None
        found, last = await index.work(scan, index.store, index.reader, context, query.mailbox, Terms.of(query),
                                       query.limit, after)  # fmt: skip
        return MessagePage(
            messages=[summary(row, entry) for row, entry in found],
            total=total,
            next_cursor=queries.encode_cursor(last) if last is not None else None,
        )

    api.amend(query=SearchQuery)
