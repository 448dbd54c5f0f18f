"""Sneakernet commands: ``sync export`` and ``sync import`` (docs/bundles.md).

Options, progress bars (stderr) and one summary line (stdout, or ``--json``); what goes
into a bundle and whether one may be applied is decided in mesyx/sneakernet.py.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from mesyx.cli.app import Context, cli, pass_ctx
from mesyx.cli.common import open_node
from mesyx.errors import MesyxError, UsageError

#: A bundle file (argument, --out) and a directory of bundles (--dir).
_file = click.Path(dir_okay=False, path_type=Path)
_dir = click.Path(file_okay=False, path_type=Path)


@cli.group()
def sync() -> None:
    """Carry data between peers by files (a USB stick) when they cannot connect."""


@contextmanager
def _progress(length: int, label: str) -> Iterator[Any]:
    """A progress bar on stderr, shown only on a terminal (stdout stays for the summary)."""
    with click.progressbar(length=length, label=label, file=sys.stderr, show_pos=True,
                           hidden=not sys.stderr.isatty()) as bar:
        yield bar


def _emit(as_json: bool, summary: list[dict[str, Any]], line: str) -> None:
    click.echo(json.dumps(summary, indent=2) if as_json else line)


@sync.command("export")
@click.option("--peer", "peer_ids", multiple=True, metavar="NODE_ID",
              help="Write what this peer lacks, as last known (repeat with --dir for several).")
@click.option("--all", "everything", is_flag=True, help="Write everything of every account, for any node.")
@click.option("--out", type=_file, help="The bundle file to write.")
@click.option("--dir", "directory", type=_dir,
              help="A directory shared by several peers: one bundle per destination, replacing older ones "
                   "(every peer when no --peer or --all is given).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary on stdout.")
@pass_ctx
def export(ctx: Context, peer_ids: tuple[str, ...], everything: bool, out: Path | None, directory: Path | None,
           as_json: bool) -> None:
    """Write a signed bundle of what peers lack.

    For one peer (--peer), for every peer into a shared directory (--dir), or everything
    for any node (--all).
    """
    from mesyx.sneakernet import atomic_file, bundle_name, ops_to_send, plan_all, plan_for_peer, write_bundle
    from mesyx.store.peers import Peers

    if (out is None) == (directory is None):
        raise UsageError("say where to write: --out FILE or --dir PATH")
    if everything and peer_ids:
        raise UsageError("--all and --peer exclude each other")
    if out is not None and len(peer_ids) + everything != 1:
        raise UsageError("with --out, give one --peer NODE_ID or --all")
    descriptor = ctx.home.descriptor()
    summary: list[dict[str, Any]] = []
    with open_node(ctx) as node:
        keys = node.store.node
        if everything:
            plans = [plan_all(node.store)]
        elif peer_ids:
            plans = [plan_for_peer(node.store, i) for i in peer_ids]
            empty = next((p.destination for p in plans if not p.accounts), None)
            if empty is not None:
                raise UsageError(f"this node holds no account shared with peer {empty} (see: mesyx peer list)")
        else:
            plans = [p for p in (plan_for_peer(node.store, i.node_id) for i in Peers(node.store).all()) if p.accounts]
            if not plans:
                raise UsageError("no peer shares an account held here: add one (mesyx peer add) or use --all")
        for plan in plans:
            target = out or Path(directory or ".") / bundle_name(keys.node_id, plan.destination)
            label = f"to {plan.destination[:12] or 'any node'}"
            with _progress(ops_to_send(node.store, plan), label) as bar, atomic_file(target) as sink:
                done = write_bundle(node.store, keys, descriptor, plan, sink, on_op=lambda: bar.update(1))
            summary.append({"file": str(target), "destination": plan.destination or None, "accounts": done.accounts,
                            "operations": done.ops, "envelopes": done.envelopes, "bytes": done.size})
    _emit(as_json, summary, "; ".join(
        f"wrote {s['file']}: {s['operations']} operations, {s['envelopes']} envelopes, {s['bytes']} bytes"
        for s in summary))


@sync.command("import")
@click.argument("bundle", type=_file, required=False)
@click.option("--dir", "directory", type=_dir,
              help="Import every bundle in this directory addressed to this node (or to any), oldest first.")
@click.option("--accept-new", is_flag=True,
              help="Take accounts unknown here even when the exporter is not a peer sharing them.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable summary on stdout.")
@pass_ctx
def import_(ctx: Context, bundle: Path | None, directory: Path | None, accept_new: bool, as_json: bool) -> None:
    """Verify a bundle whole, then apply it atomically.

    Nothing of a damaged bundle is applied, and importing one twice changes nothing.
    """
    from mesyx.proto.sync.bundle import verify
    from mesyx.sneakernet import bundles_for, import_bundle

    if (bundle is None) == (directory is None):
        raise UsageError("say what to import: a bundle FILE or --dir PATH")
    summary: list[dict[str, Any]] = []
    refused: list[str] = []
    with open_node(ctx) as node:
        if bundle is not None:
            paths = [bundle]
        else:
            found, unreadable = bundles_for(Path(directory or "."), node.store.node.node_id)
            refused += [why for _, why in unreadable]
            paths = [p for p, _ in found]
        for path in paths:
            try:
                with _progress(path.stat().st_size if path.is_file() else 0, f"verifying {path.name[:24]}") as bar:
                    info = verify(path, bar.update)
                with _progress(info.frames, "applying") as bar:
                    done = import_bundle(node.store, path, info, accept_new=accept_new, on_frame=lambda: bar.update(1))
            except MesyxError as exc:
                if bundle is not None:
                    raise
                refused.append(str(exc))
                continue
            summary.append({"file": str(path), "exporter": done.exporter, "known_peer": done.known_peer,
                            "accounts": done.accounts, "operations": done.ops, "envelopes": done.envelopes,
                            "skipped": done.skipped, "new_accounts": done.new_accounts,
                            "nothing_new": done.nothing_new})
    lines = [f"{s['file']}: nothing new" if s["nothing_new"] else
             f"{s['file']}: {s['operations']} operations, {s['envelopes']} envelopes applied" for s in summary]
    if not summary and not refused:
        lines = [f"no bundle for this node in {directory}"]
    _emit(as_json, summary, "; ".join(lines))
    for line in refused:
        click.echo(f"mesyx: skipped: {line}", err=True)
    if refused:
        raise MesyxError(f"{len(refused)} bundle(s) refused, nothing of them applied (see above)")
