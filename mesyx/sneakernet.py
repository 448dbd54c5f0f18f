"""Sneakernet: export what a peer lacks into a bundle file, import a bundle (issue 6, point 5).

The store side is :class:`mesyx.store.replica.Replica` (what a peer lacks, applying frames
in one transaction) and the container is :mod:`mesyx.proto.sync.bundle`; this module
decides *what* goes into a bundle and *whether* a verified bundle may be applied, so the
CLI (mesyx/cli/sync.py) only parses options, shows progress and prints one summary.

- Export for a peer sends, per account shared with it, exactly what it lacks according to
  its last known vectors (``peer_heads``; nothing known: everything). ``--all`` sends
  everything of every account to no one in particular. Either way the ACCOUNT frames carry
  the exporter's vectors, so the importer can answer with exactly what the exporter lacks.
- Import verifies the whole file first (bundle.verify), refuses a bundle addressed to
  another node or exported by this one, takes an account this node does not know only from
  a known peer sharing it or with ``accept_new``, applies everything in one transaction
  (Replica.apply), then records the exporter's vectors as its last known heads.
- A directory (a USB stick several peers use) holds ``<from>-to-<to>.mesyx-bundle`` files,
  one per destination, each replaced atomically by the next export.

docs/bundles.md is the user-facing description.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from mesyx.crypto.encoding import b32
from mesyx.crypto.node import NodeKeys
from mesyx.errors import Corrupt, CryptoError, NotFound, PermissionDenied, UsageError
from mesyx.proto.sync.bundle import BundleHeader, BundleInfo, BundleParser, BundleWriter, read_frames
from mesyx.proto.sync.frames import EnvelopeFrame, OpFrame
from mesyx.store.peers import Peers, vector_lacks
from mesyx.store.replica import Replica
from mesyx.store.store import Store

__all__ = [
    "BUNDLE_SUFFIX",
    "ExportPlan",
    "Exported",
    "Imported",
    "plan_for_peer",
    "plan_all",
    "bundle_name",
    "write_bundle",
    "atomic_file",
    "read_header",
    "bundles_for",
    "import_bundle",
]

BUNDLE_SUFFIX = ".mesyx-bundle"
#: The destination part of a file name for a bundle addressed to any node (``--all``).
ANY_NODE = "all"
_HEADER_PROBE = 64 << 10


@dataclass(frozen=True)
class ExportPlan:
    """Whom a bundle is for and, per account, what that node is known to hold."""

    destination: str  # a node id, or "" for any node
    accounts: tuple[bytes, ...]
    heads: dict[bytes, dict[str, int]]


@dataclass
class Exported:
    destination: str
    accounts: int = 0
    ops: int = 0
    envelopes: int = 0
    size: int = 0


@dataclass
class Imported:
    exporter: str
    known_peer: bool
    accounts: int = 0
    ops: int = 0
    envelopes: int = 0
    skipped: int = 0
    new_accounts: list[str] = field(default_factory=list)

    @property
    def nothing_new(self) -> bool:
        return self.ops == 0 and self.envelopes == 0 and not self.new_accounts


def plan_for_peer(store: Store, node_id: str) -> ExportPlan:
    """What ``node_id`` lacks of the accounts shared with it (a known peer only). An
    account shared but not held here yet (a relay paired before it got a copy) has
    nothing to send, so it is left out: the plan may have no account at all."""
    table = Peers(store)
    try:
        peer = table.get(node_id)
    except NotFound:
        raise NotFound(f"no peer {node_id}: add it first (mesyx peer add), or export everything with --all") from None
    held = {r.account_id for r in store.accounts()}
    return ExportPlan(node_id, tuple(a for a in peer.accounts if a in held), table.heads(node_id))


def plan_all(store: Store) -> ExportPlan:
    """Everything of every account, for any node."""
    accounts = tuple(r.account_id for r in store.accounts())
    if not accounts:
        raise NotFound("this node has no account to export")
    return ExportPlan("", accounts, {})


def bundle_name(exporter: str, destination: str) -> str:
    """The file name of a bundle in a shared directory: one per (exporter, destination)."""
    return f"{exporter}-to-{destination or ANY_NODE}{BUNDLE_SUFFIX}"


def ops_to_send(store: Store, plan: ExportPlan) -> int:
    """How many operations the bundle will hold (from version vectors: cheap), for progress."""
    ours = Replica(store).vectors(list(plan.accounts))
    return sum(vector_lacks(plan.heads.get(a, {}), ours.get(a, {})) for a in plan.accounts)


def write_bundle(
    store: Store,
    keys: NodeKeys,
    descriptor: dict[str, object],
    plan: ExportPlan,
    sink: BinaryIO,
    *,
    on_op: Callable[[], None] | None = None,
) -> Exported:
    """Write the bundle of ``plan`` to ``sink``; the frames come from Replica.missing."""
    replica = Replica(store)
    writer = BundleWriter(sink, keys, descriptor, destination=plan.destination,
                          created_at_ms=int(time.time() * 1000))
    result = Exported(plan.destination, accounts=len(plan.accounts))
    for account_id in plan.accounts:
        for frame in replica.missing(account_id, plan.heads.get(account_id, {})):
            writer.frame(frame)
            if isinstance(frame, OpFrame):
                result.ops += 1
                if on_op is not None:
                    on_op()
            elif isinstance(frame, EnvelopeFrame):
                result.envelopes += 1
    writer.finish()
    result.size = writer.size
    return result


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A new file at ``path`` that appears whole or not at all: written to a temporary name
    beside it, fsynced, renamed over any older one, the directory fsynced (as blobs are)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        handle = temp.open("wb")
    except FileNotFoundError:
        raise NotFound(f"no directory {path.parent}") from None
    except PermissionError:
        raise PermissionDenied(f"cannot write in {path.parent}") from None
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_header(path: Path) -> BundleHeader:
    """A bundle's header alone (descriptor checked, content not): to pick and order the
    bundles of a directory before verifying each in full."""
    parser = BundleParser(f"bundle {path}")
    with path.open("rb") as handle:
        while parser.header is None:
            chunk = handle.read(_HEADER_PROBE)
            if not chunk:
                parser.close()  # raises: no header
            parser.feed(chunk)
    return parser.header


def bundles_for(directory: Path, node_id: str) -> tuple[list[tuple[Path, BundleHeader]], list[tuple[Path, str]]]:
    """The bundles in ``directory`` addressed to ``node_id`` or to any node, not exported
    by it, oldest first; and the files that could not be read, with why."""
    if not directory.is_dir():
        raise NotFound(f"no directory {directory}")
    found: list[tuple[Path, BundleHeader]] = []
    unreadable: list[tuple[Path, str]] = []
    for path in sorted(directory.glob(f"*{BUNDLE_SUFFIX}")):
        try:
            header = read_header(path)
        except (Corrupt, CryptoError) as exc:
            unreadable.append((path, str(exc)))
            continue
        except OSError as exc:
            unreadable.append((path, f"cannot read {path}: {exc.strerror}"))
            continue
        if header.destination in ("", node_id) and header.exporter != node_id:
            found.append((path, header))
    found.sort(key=lambda item: (item[1].created_at_ms, item[0].name))
    return found, unreadable


def import_bundle(
    store: Store,
    path: Path,
    info: BundleInfo,
    *,
    accept_new: bool,
    on_frame: Callable[[], None] | None = None,
) -> Imported:
    """Apply a bundle :func:`mesyx.proto.sync.bundle.verify` accepted, all or nothing."""
    header = info.header
    node_id = store.node.node_id
    if header.exporter == node_id:
        raise UsageError(f"bundle {path} was exported by this node; import it on the node it is for")
    if header.destination not in ("", node_id):
        raise UsageError(f"bundle {path} is addressed to node {header.destination}, not to this one ({node_id})")
    peers = Peers(store)
    try:
        peer = peers.get(header.exporter)
    except NotFound:
        peer = None
    known = {r.account_id for r in store.accounts()}
    new = [a for a in info.vectors if a not in known]
    refused = [a for a in new if not accept_new and (peer is None or not peer.shares(a))]
    if refused:
        who = "a peer that does not share it" if peer is not None else "not a known peer"
        raise PermissionDenied(
            f"bundle {path} carries {len(refused)} account(s) unknown here (first {b32(refused[0])}) and its "
            f"exporter {header.exporter} is {who}: pass --accept-new to take them")
    applied = Replica(store).apply(read_frames(path, info, on_frame), accept_accounts=new)
    result = Imported(header.exporter, peer is not None, accounts=len(info.vectors),
                      new_accounts=[b32(a) for a in new])
    result.ops, result.envelopes = applied.ops_taken, applied.envelopes_taken
    result.skipped = sum(c.ops_skipped + c.envelopes_skipped for c in applied.accounts.values())
    if peer is not None:
        heads = peers.heads(peer.node_id)
        peers.set_heads(peer.node_id, {a: _merged(heads.get(a, {}), v) for a, v in info.vectors.items()})
        peers.record_contact(peer.node_id)
    return result


def _merged(known: dict[str, int], told: dict[str, int]) -> dict[str, int]:
    """A peer's vectors only grow: a bundle older than what we heard since says less."""
    return {o: max(known.get(o, 0), told.get(o, 0)) for o in known.keys() | told.keys()}
