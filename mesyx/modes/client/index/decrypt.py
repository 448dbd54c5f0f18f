"""Batched reads of the store for the index: which envelopes open here, and opening them.

Why not :func:`mesyx.store.mailcrypt.read_message` in a loop: it costs two queries per
message (the envelope, its wraps), and a first build of a 10,000-message account would
make 20,000 round trips (issue 3: "FETCH and SEARCH batch their decryption and database
reads"). Here one query fetches a chunk of envelopes and one their wraps; the checks are
``read_message``'s own, in the same order: the envelope must hash to its id and belong to
the account, and a wrap must be sealed to a keyset attached on this node.

An envelope is *openable* when it is stored here and has a live wrap to an attached
keyset. One that is not either was never shown here (its body has not replicated yet: it
stays out of the index until it opens) or was (its keyset detached since: it stays in
its mailboxes under its UIDs, unavailable, without a cache row, until it opens again);
see :mod:`.reconcile`.

The queries are module-level statements with bound parameters (expanding ones for the IN
lists), built once: every FETCH of a body runs :func:`open_envelopes`, and building a
statement per call costs SQLAlchemy several times what executing a prebuilt one does.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select

from mesyx.crypto.envelope import Envelope, InnerRecord, KeyWrap, open_message, open_wrap
from mesyx.crypto.keysets import KeysetSecret
from mesyx.errors import CryptoError, MesyxError, PermissionDenied
from mesyx.log import get_logger
from mesyx.store import schema as t
from mesyx.store.mailcrypt import UnlockedAccount
from mesyx.store.store import Store

__all__ = ["Opened", "Unopenable", "openable", "open_envelopes", "header_end", "CHUNK"]

_log = get_logger("index")

#: Envelopes per query: bounded memory (inline bodies are below the blob threshold,
#: files are read one at a time) and well under SQLite's 32,766 bound parameters.
CHUNK = 256


@dataclass(frozen=True)
class Opened:
    envelope_id: bytes
    inner: InnerRecord
    raw: bytes


@dataclass(frozen=True)
class Unopenable:
    envelope_id: bytes
    error: MesyxError


def header_end(raw: bytes) -> int:
    """Offset of the body: just past the first empty line (CRLF or bare LF), else the end.

    RFC 5322 section 2.1: the header section ends at the first empty line; a message
    without one is all header (BODY[TEXT] is then empty, as Dovecot answers).
    """
    crlf = raw.find(b"\r\n\r\n")
    lf = raw.find(b"\n\n")
    ends = [i + 4 for i in (crlf,) if i >= 0] + [i + 2 for i in (lf,) if i >= 0]
    if raw.startswith(b"\r\n"):
        ends.append(2)
    elif raw.startswith(b"\n"):
        ends.append(1)
    return min(ends) if ends else len(raw)


_OPENABLE = (
    select(t.wraps.c.envelope_id)
    .join(t.envelopes, t.envelopes.c.envelope_id == t.wraps.c.envelope_id)
    .where(t.envelopes.c.account_id == bindparam("account_id"), t.wraps.c.retired.is_(False),
           t.wraps.c.keyset_id.in_(bindparam("keyset_ids", expanding=True)))
)
_OPENABLE_AMONG = _OPENABLE.where(t.wraps.c.envelope_id.in_(bindparam("envelope_ids", expanding=True)))


def openable(
    conn: Connection, account_id: bytes, keyset_ids: Iterable[bytes], *, only: Iterable[bytes] | None = None
) -> set[bytes]:
    """The account's stored envelopes with a live wrap to one of ``keyset_ids``: one
    query (one per :data:`CHUNK` of ``only``, when asked about these envelopes only)."""
    ids = list(keyset_ids)
    if not ids:
        return set()
    params = {"account_id": account_id, "keyset_ids": ids}
    if only is None:
        return {bytes(eid) for eid in conn.execute(_OPENABLE, params).scalars()}
    found: set[bytes] = set()
    for chunk in _chunks(sorted(set(only))):
        among = {**params, "envelope_ids": list(chunk)}
        found.update(bytes(eid) for eid in conn.execute(_OPENABLE_AMONG, among).scalars())
    return found


def _chunks(items: Sequence[bytes], size: int = CHUNK) -> Iterator[Sequence[bytes]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


_ENVELOPE_COLUMNS = select(
    t.envelopes.c.envelope_id, t.envelopes.c.account_id, t.envelopes.c.header, t.envelopes.c.body,
    t.envelopes.c.in_file,
)
_WRAP_COLUMNS = select(t.wraps.c.envelope_id, t.wraps.c.keyset_id, t.wraps.c.sealed).where(
    t.wraps.c.retired.is_(False))
#: (envelopes, their live wraps): for a chunk (an expanding IN list), and for one message
#: (a REST get, an IMAP FETCH of one body), which skips SQLAlchemy's expansion of the list
#: on every call.
_MANY = (_ENVELOPE_COLUMNS.where(t.envelopes.c.envelope_id.in_(bindparam("envelope_ids", expanding=True))),
         _WRAP_COLUMNS.where(t.wraps.c.envelope_id.in_(bindparam("envelope_ids", expanding=True))))
_ONE = (_ENVELOPE_COLUMNS.where(t.envelopes.c.envelope_id == bindparam("envelope_id")),
        _WRAP_COLUMNS.where(t.wraps.c.envelope_id == bindparam("envelope_id")))


def open_envelopes(
    store: Store, account: UnlockedAccount, envelope_ids: Sequence[bytes]
) -> Iterator[Opened | Unopenable]:
    """Open many envelopes with two queries per :data:`CHUNK`; yields one result each.

    A message that does not open (tampered, body file missing, no attached keyset) is an
    :class:`Unopenable`, never an exception: one bad envelope must not stop an index
    build. The caller logs and leaves it out.
    """
    account_id = account.record.account_id
    for chunk in _chunks(envelope_ids):
        (envelopes, live_wraps), ids = ((_ONE, {"envelope_id": chunk[0]}) if len(chunk) == 1
                                        else (_MANY, {"envelope_ids": list(chunk)}))
        with store.engine.connect() as conn, conn.begin():
            rows = {bytes(r.envelope_id): r for r in conn.execute(envelopes, ids)}
            wraps: dict[bytes, list[KeyWrap]] = {}
            for eid, keyset_id, sealed in conn.execute(live_wraps, ids):
                wraps.setdefault(bytes(eid), []).append(KeyWrap(bytes(eid), bytes(keyset_id), bytes(sealed)))
        for envelope_id in chunk:
            row = rows.get(envelope_id)
            try:
                if row is None:
                    raise CryptoError("the envelope is not stored on this node (yet)")
                if bytes(row.account_id) != account_id:
                    raise PermissionDenied("the envelope belongs to another account")
                body = store.blobs.read(envelope_id) if row.in_file else bytes(row.body)
                envelope = Envelope(bytes(row.header), body)
                envelope.check(envelope_id)
                yield _open(envelope_id, envelope, wraps.get(envelope_id, []), account)
            except MesyxError as exc:
                _log.warning("index.unopenable", envelope=envelope_id.hex()[:16], error=exc.kind, reason=exc.message)
                yield Unopenable(envelope_id, exc)


def _open(envelope_id: bytes, envelope: Envelope, wraps: list[KeyWrap], account: UnlockedAccount) -> Opened:
    for wrap in wraps:
        keyset = account.keysets.get(wrap.keyset_id)
        if keyset is not None:
            inner, raw = open_message(envelope, _CONTENT_KEYS.unwrap(account, wrap, keyset))
            return Opened(envelope_id, inner, raw)
    raise CryptoError("no attached keyset opens this envelope (its keyset may be detached)")


class _ContentKeys:
    """The content keys each unlock has opened lately, so FETCH does not unwrap them again.

    Opening a wrap (an X25519 sealed box) costs about 35 us: half of what
    :func:`open_envelopes` spends on a FETCH of 20 bodies, and the same messages are
    fetched again and again. It is sound to keep what it gives: the key is derived from
    the private key the same :class:`UnlockedAccount` holds in this process's memory
    anyway, so the cache holds nothing the unlock does not. It never outlives it: keys
    are filed under the unlock object (by identity: a new unlock starts empty) and
    dropped when it is garbage collected. A detached keyset is gone from
    ``account.keysets``, checked before the cache is asked, and a new unlock never sees
    it. The key is the whole wrap (envelope, keyset, sealed bytes): a changed or
    tampered wrap is a miss and opens, with its checks, as before. The envelope's hash
    and its authenticated decryption are never skipped. At most :attr:`size` keys per
    unlock, the oldest dropped first.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._by_unlock: dict[int, dict[KeyWrap, bytes]] = {}

    def unwrap(self, account: UnlockedAccount, wrap: KeyWrap, keyset: KeysetSecret) -> bytes:
        with self._lock:
            known = self._by_unlock.get(id(account), {}).get(wrap)
        if known is not None:
            return known
        key = open_wrap(wrap, keyset.private_key)
        with self._lock:
            keys = self._by_unlock.get(id(account))
            if keys is None:
                keys = self._by_unlock[id(account)] = {}
                weakref.finalize(account, self._by_unlock.pop, id(account), None)
            if len(keys) >= self.size:
                del keys[next(iter(keys))]
            keys[wrap] = key
        return key


#: Keys per unlock: a 10,000-message mailbox read at random (REST, a phone) stays in it
#: (about 400 octets an entry: 6.5 MB at most per unlock).
_CONTENT_KEYS = _ContentKeys(16384)
