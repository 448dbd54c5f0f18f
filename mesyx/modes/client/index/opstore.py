"""The account's operations as already opened: kept in the index so a restart need not
open every sealed operation again.

Why: each client-state operation is a sealed box to the metadata keyset, about 70 µs to
open; a daemon's first sync of a 100,000-message account would spend seconds on that
at the first login after every restart. Here each operation's decoded change is stored
once (``index_ops``), and a new syncer reads them back in one query, then opens only the
operations it has not seen. What is stored is what the index shows anyway (mailbox ids
and names, keywords, received times), plus their history (a keyword once set, a
mailbox's old name): docs/threat-model.md lists it. A rebuild drops the rows and opens
everything again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select

from mesyx.modes.client.index import schema as x
from mesyx.modes.client.index.db import chunked, insert_ignore
from mesyx.store import fold
from mesyx.store.fold import Change, Stamp

__all__ = ["Decoded", "ToSave", "encode", "decode", "load", "save", "forget"]

#: ``(origin, seq)``, its stamp and change (None: nothing the index folds), its kind.
Decoded = tuple[tuple[str, int], tuple[Stamp, Change] | None, int]
#: What :func:`save` takes: a :data:`Decoded` and the operation's HLC.
ToSave = tuple[tuple[str, int], tuple[Stamp, Change] | None, int, int]


def encode(change: Change) -> dict[str, Any]:
    if isinstance(change, fold.Put):
        return {"t": "put", "e": change.envelope_id.hex(), "m": sorted(change.mailbox_ids),
                "k": sorted(change.keywords), "r": change.received_at}
    if isinstance(change, fold.SetMailboxes):
        return {"t": "boxes", "e": change.envelope_id.hex(), "m": sorted(change.mailbox_ids)}
    if isinstance(change, fold.SetKeywords):
        return {"t": "words", "e": change.envelope_id.hex(), "k": sorted(change.keywords), "p": change.present}
    if isinstance(change, fold.DeleteEnvelope):
        return {"t": "delete", "e": change.envelope_id.hex()}
    if isinstance(change, fold.Replace):
        return {"t": "replace", "o": change.old_id.hex(), "n": change.new_id.hex()}
    if isinstance(change, fold.CreateMailbox):
        return {"t": "create", "i": change.mailbox_id, "n": change.name, "p": change.parent_id, "r": change.role}
    if isinstance(change, fold.RenameMailbox):
        return {"t": "rename", "i": change.mailbox_id, "n": change.name, "p": change.parent_id}
    return {"t": "unbox", "i": change.mailbox_id}


def decode(data: dict[str, Any]) -> Change:
    kind = data["t"]
    if kind == "put":
        return fold.Put(bytes.fromhex(data["e"]), frozenset(data["m"]), frozenset(data["k"]), float(data["r"]))
    if kind == "boxes":
        return fold.SetMailboxes(bytes.fromhex(data["e"]), frozenset(data["m"]))
    if kind == "words":
        return fold.SetKeywords(bytes.fromhex(data["e"]), frozenset(data["k"]), bool(data["p"]))
    if kind == "delete":
        return fold.DeleteEnvelope(bytes.fromhex(data["e"]))
    if kind == "replace":
        return fold.Replace(bytes.fromhex(data["o"]), bytes.fromhex(data["n"]))
    if kind == "create":  # "r" is missing in rows stored before roles could move
        return fold.CreateMailbox(data["i"], data["n"], data["p"], data.get("r"))
    if kind == "rename":
        return fold.RenameMailbox(data["i"], data["n"], data["p"])
    if kind == "unbox":
        return fold.DeleteMailbox(data["i"])
    raise ValueError(f"unknown stored change {kind!r}")


#: Built once (so are the other statements here): building one costs more than running it.
_STORED_OPS = select(
    x.index_ops.c.origin, x.index_ops.c.seq, x.index_ops.c.hlc, x.index_ops.c.kind, x.index_ops.c.change
).where(x.index_ops.c.account_id == bindparam("account_id"))


def load(conn: Connection, account_id: bytes) -> Iterator[Decoded]:
    """Every stored operation of the account; one that does not read back is skipped
    (it is opened again from the log)."""
    for origin, seq, hlc, kind, text in conn.execute(_STORED_OPS, {"account_id": account_id}).all():
        if text is None:
            yield (origin, seq), None, kind
            continue
        try:
            change = decode(json.loads(text))
        except (ValueError, KeyError, TypeError):
            continue
        yield (origin, seq), ((hlc, origin, seq), change), kind


def save(conn: Connection, account_id: bytes, items: Iterable[ToSave]) -> None:
    rows = [
        {"account_id": account_id, "origin": key[0], "seq": key[1], "hlc": hlc, "kind": kind,
         "change": None if decoded is None else json.dumps(encode(decoded[1]), separators=(",", ":"))}
        for key, decoded, kind, hlc in items
    ]
    for chunk in chunked(rows):
        insert_ignore(conn, x.index_ops, chunk)


_FORGET_OPS = delete(x.index_ops).where(x.index_ops.c.account_id == bindparam("account_id"))


def forget(conn: Connection, account_id: bytes) -> None:
    conn.execute(_FORGET_OPS, {"account_id": account_id})
