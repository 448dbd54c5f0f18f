"""Node commands: ``init``, ``run``, ``status``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mesyx.cli.app import Context, cli, pass_ctx
from mesyx.cli.common import open_node
from mesyx.cli.peer import describe, peer_rows
from mesyx.cli.secrets import passphrase_option, read_passphrase
from mesyx.errors import MesyxError, UsageError

_MODE_NAMES = ("accept", "exchange", "client", "reencrypt")


def _parse_modes(value: str | None) -> list[str]:
    if value is None:
        return list(_MODE_NAMES)
    modes = [m.strip().lower() for m in value.split(",") if m.strip()]
    unknown = [m for m in modes if m not in _MODE_NAMES]
    if unknown or not modes:
        named = ", ".join(unknown) or "(none)"
        raise UsageError(f"--modes: unknown mode {named}; choose from {', '.join(_MODE_NAMES)}")
    return modes


@cli.command()
@click.option("--account", "address", help="Create this account too (client nodes only).")
@passphrase_option
@click.option("--port-base", type=click.IntRange(0, 64000), default=20000, show_default=True,
              help="Every listener at a fixed offset: SMTP +25, REST +80, IMAP +143, ...")
@click.option("--modes", help="Comma-separated modes to enable  [default: all four]")
@click.option("--hostname", default="localhost", show_default=True, help="Name in the SMTP banner.")
@click.option("--keyset-policy", default="weekly", show_default=True,
              help="Shipped policy name or a policy TOML file, for --account.")
@pass_ctx
def init(ctx: Context, address: str | None, passphrase_file: Path | None, port_base: int, modes: str | None,
         hostname: str, keyset_policy: str) -> None:
    """Create a new node home: config, node keys, TLS certificate, empty store."""
    from mesyx.accounts import create_account
    from mesyx.addresses import check_address
    from mesyx.config import Mode
    from mesyx.keyset_policy import load_policy

    chosen = [Mode(m) for m in _parse_modes(modes)]
    policy = None
    passphrase = None
    if address is not None:
        check_address(address)
        if Mode.CLIENT not in chosen:
            raise UsageError(
                "only a client node can create an account (it holds the private keys); on this node, "
                "import the account's public parts: mesyx account export ADDR | mesyx account import -"
            )
        policy = load_policy(keyset_policy)
        passphrase = read_passphrase(passphrase_file, prompt="New passphrase", confirm=True)
    config, keys = ctx.home.create(modes=chosen, port_base=port_base, hostname=hostname)
    click.echo(f"node {keys.node_id} initialised in {ctx.home.root}")
    click.echo(f"modes: {', '.join(sorted(m.value for m in config.node.modes))}; SMTP on "
               f"{config.node.listen}:{config.ports.smtp}")
    if address is not None and policy is not None and passphrase is not None:
        store = ctx.home.open_store(config, keys)
        try:
            record = create_account(store, address, passphrase, policy, config.crypto.passphrase_kdf)
        finally:
            store.close()
        click.echo(f"account {record.primary_address} created")


@cli.command()
@pass_ctx
def run(ctx: Context) -> None:
    """Run the daemon in the foreground until SIGTERM or Ctrl-C (logs on stderr)."""
    from mesyx.daemon import run_daemon
    from mesyx.log import setup_logging

    config = ctx.home.config()
    setup_logging("debug" if ctx.debug else config.log.level, config.log.subsystems, config.log.format)
    run_daemon(ctx.home)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@pass_ctx
def status(ctx: Context, as_json: bool) -> None:
    """Show the node id, whether the daemon runs, its listeners and store counts."""
    config = ctx.home.config()
    keys = ctx.home.node_keys()
    pid = ctx.home.running_pid()
    ports = {"smtp": config.ports.smtp} if "accept" in config.node.modes else {}
    if "exchange" in config.node.modes:
        ports["exchange"] = config.ports.exchange
    info: dict[str, object] = {
        "node_id": keys.node_id,
        "home": str(ctx.home.root),
        "running": pid is not None,
        "pid": pid,
        "modes": sorted(m.value for m in config.node.modes),
        "listen": config.node.listen,
        "ports": ports,
    }
    try:
        descriptor = ctx.home.descriptor()
        info["tls_spki_sha256"] = descriptor["tls_spki_sha256"]
        info["descriptor"] = descriptor
    except MesyxError as exc:
        info["descriptor"] = {"error": exc.message}
    try:
        with open_node(ctx) as node:
            info["store"] = node.store.counts()
            info["peers"] = peer_rows(node, lacks=True)
    except MesyxError as exc:
        info["store"] = {"error": exc.message}
        info["peers"] = []
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"node      {info['node_id']}")
    click.echo(f"daemon    {f'running (pid {pid})' if pid else 'not running'}")
    click.echo(f"modes     {', '.join(config.node.modes)}")
    for name, port in ports.items():
        click.echo(f"{name:<9} {config.node.listen}:{port}")
    counts = info["store"]
    assert isinstance(counts, dict)
    click.echo("store     " + ", ".join(f"{value} {name}" for name, value in counts.items()))
    peers = info["peers"]
    assert isinstance(peers, list)
    for row in peers:
        click.echo(f"peer      {describe(row)}")
