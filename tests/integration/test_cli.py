"""The ``mesyx`` CLI's contracts (DESIGN.md, Interfaces users touch), through the
installed console script: ``--help`` everywhere, a fast ``--help`` that imports no heavy
library, and bad input answered with ONE line on stderr, a non-zero exit and no traceback.
``--json`` output parses from stdout alone. No daemon is started here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from tests.helpers.daemon import (
    CliResult,
    Node,
    NodeFactory,
    assert_one_line_error,
    is_listening,
    pick_port_base,
    run_cli,
)

ALICE = "alice@mesyx.test"


# --------------------------------------------------------------------------- help


def _command_paths() -> list[tuple[str, ...]]:
    from mesyx.cli.app import cli, load_commands

    load_commands()

    paths: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        paths.append(path)
        if isinstance(command, click.Group):
            for name, sub in sorted(command.commands.items()):
                walk(sub, (*path, name))

    walk(cli, ())
    return paths


COMMAND_PATHS = _command_paths()


def test_the_command_tree_has_the_issue_commands() -> None:
    names = {" ".join(p) for p in COMMAND_PATHS}
    for wanted in ("init", "run", "status", "account add", "account remove", "account list", "account passwd",
                   "account export", "account import", "account app-password add", "account app-password list",
                   "account app-password revoke", "keyset list", "message list", "message show",
                   "account enrol", "account devices", "peer add", "peer list", "peer remove", "sync export",
                   "sync import", "sieve check", "sieve test", "sieve put", "sieve get", "sieve list",
                   "sieve activate"):
        assert wanted in names, wanted


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "mesyx")
def test_every_command_answers_help(path: tuple[str, ...]) -> None:
    from mesyx.cli.app import cli

    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="mesyx")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: mesyx {' '.join(path)}".rstrip())
    short = CliRunner().invoke(cli, [*path, "-h"], prog_name="mesyx")
    assert short.exit_code == 0 and short.output == result.output


@pytest.mark.parametrize("args", [["--help"], ["message", "show", "--help"]])
def test_help_through_the_console_script(args: list[str], tmp_path: Path) -> None:
    # --help touches no home, even a missing one.
    result = run_cli("--home", tmp_path / "missing", *args)
    assert result.returncode == 0, result
    assert result.out.startswith("Usage: mesyx") and result.stderr == b""
    assert not (tmp_path / "missing").exists()


HEAVY = ("sqlalchemy", "nacl", "aiosmtpd", "cryptography", "uvloop", "mesyx.store.store", "mesyx.daemon")


@pytest.mark.parametrize("args", [["--help"], ["account", "--help"], ["message", "list", "--help"], ["init", "-h"]])
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from mesyx.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "[]", f"`mesyx {' '.join(args)}` imported {proc.stderr}"


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.out.startswith("mesyx")


# --------------------------------------------------------------------------- a client node


@pytest.fixture(scope="module")
def client(module_node_factory: NodeFactory) -> Node:
    """An all-modes node with alice (created by init); the daemon is not running."""
    return module_node_factory.create("client", account=ALICE)


@pytest.fixture(scope="module")
def accept(module_node_factory: NodeFactory) -> Node:
    """An accept-only node without accounts."""
    return module_node_factory.create("accept", modes=["accept"])


@pytest.fixture
def fresh(node_factory: NodeFactory) -> Node:
    """An all-modes node of this test alone, with alice."""
    return node_factory.create("fresh", account=ALICE, passphrase="first passphrase")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- one-line errors


def test_unknown_command(client: Node) -> None:
    line = assert_one_line_error(client.cli("frobnicate"), "frobnicate")
    assert line.startswith("mesyx: error:")
    assert_one_line_error(client.cli("account", "frobnicate"), "frobnicate")
    assert_one_line_error(client.cli("status", "--frobnicate"), "--frobnicate")


@pytest.mark.parametrize("value", ["abc", "-5", "64999"])
def test_bad_port_base(tmp_path: Path, value: str) -> None:
    result = run_cli("--home", tmp_path / "h", "init", "--port-base", value)
    assert_one_line_error(result, "port-base")
    assert not (tmp_path / "h" / "mesyx.toml").exists()


@pytest.mark.parametrize("value", ["accept,bogus", ","])
def test_unknown_modes(tmp_path: Path, value: str) -> None:
    result = run_cli("--home", tmp_path / "h", "init", "--modes", value, "--port-base", pick_port_base())
    assert_one_line_error(result, "mode")
    assert not (tmp_path / "h" / "mesyx.toml").exists()


def test_init_twice(client: Node) -> None:
    before = client.config_path.read_bytes()
    key_before = (client.home / "node.key").read_bytes()
    assert_one_line_error(client.cli("init", "--port-base", pick_port_base()), "already")
    assert client.config_path.read_bytes() == before
    assert (client.home / "node.key").read_bytes() == key_before


def test_init_account_on_accept_only_node_is_refused(tmp_path: Path) -> None:
    pw = write(tmp_path / "pw", "x")
    result = run_cli("--home", tmp_path / "h", "init", "--modes", "accept", "--account", ALICE,
                     "--passphrase-file", pw, "--port-base", pick_port_base())
    assert_one_line_error(result, "client")


@pytest.mark.parametrize("args", [
    ["status", "--json"], ["run"], ["message", "list", "--passphrase-file", "/dev/null"], ["account", "export", ALICE],
])
def test_missing_home(tmp_path: Path, args: list[str]) -> None:
    home = tmp_path / "no-such-home"
    result = run_cli("--home", home, *args)
    line = assert_one_line_error(result, "init")
    assert str(home) in line
    assert result.stdout == b""
    assert not home.exists(), "a command other than init must not create a home"


def test_home_from_environment(client: Node) -> None:
    result = run_cli("status", "--json", env={"MESYX_HOME": str(client.home)})
    assert result.returncode == 0, result
    assert result.json()["home"] == str(client.home)


@pytest.mark.parametrize("address", ["not-an-address", "a b@c.test", "x" * 300 + "@a.test"])
def test_account_add_invalid_address(client: Node, address: str, tmp_path: Path) -> None:
    before = client.table_counts()
    pw = write(tmp_path / "pw", "some passphrase")
    assert_one_line_error(client.cli("account", "add", address, "--passphrase-file", pw), "address")
    assert client.table_counts() == before


def test_account_add_duplicate_address(client: Node, tmp_path: Path) -> None:
    before = client.table_counts()
    pw = write(tmp_path / "pw", "some passphrase")
    assert_one_line_error(client.cli("account", "add", ALICE, "--passphrase-file", pw), ALICE)
    assert_one_line_error(client.cli("account", "add", ALICE.upper(), "--passphrase-file", pw))
    assert client.table_counts() == before


def test_account_add_on_accept_node_is_refused(accept: Node, tmp_path: Path) -> None:
    pw = write(tmp_path / "pw", "some passphrase")
    assert_one_line_error(accept.cli("account", "add", "zed@mesyx.test", "--passphrase-file", pw), "client")


def test_account_add_without_passphrase_does_not_prompt(client: Node) -> None:
    # stdin is not a terminal: an error naming --passphrase-file, not a hang.
    assert_one_line_error(client.cli("account", "add", "carl@mesyx.test"), "--passphrase-file")


# --------------------------------------------------------------------------- import


@pytest.fixture(scope="module")
def export_text(client: Node) -> str:
    return client.cli("account", "export", ALICE, check=True).out


def test_import_missing_file(accept: Node, tmp_path: Path) -> None:
    before = accept.table_counts()
    assert_one_line_error(accept.cli("account", "import", tmp_path / "nope.pub"), "nope.pub")
    assert accept.table_counts() == before


@pytest.mark.parametrize("content", [
    b"", b"\x00\xff\xfe garbage \x80", b"hello, not json\n", b"[]", b"{}", b'{"format": "something-else"}',
    b"null", b'{"format": "mesyx-account-public-v1"}',
], ids=["empty", "binary", "text", "list", "empty-object", "other-format", "null", "format-only"])
def test_import_garbage(accept: Node, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "garbage.pub"
    path.write_bytes(content)
    before = accept.table_counts()
    assert_one_line_error(accept.cli("account", "import", path))
    assert accept.table_counts() == before


def _flip(value: str) -> str:
    """Change one base32 character in the middle of ``value``."""
    i = len(value) // 2
    return value[:i] + ("b" if value[i] != "b" else "c") + value[i + 1:]


@pytest.mark.parametrize("part", ["keyset-signature", "announcement", "device-list", "verify-key", "address"])
def test_import_tampered_export_stores_nothing(accept: Node, export_text: str, tmp_path: Path, part: str) -> None:
    data = json.loads(export_text)
    if part == "keyset-signature":
        data["keysets"][1]["signature"] = _flip(data["keysets"][1]["signature"])
    elif part == "announcement":
        data["keysets"][-1]["announcement"] = _flip(data["keysets"][-1]["announcement"])
    elif part == "device-list":
        data["device_list"] = _flip(data["device_list"])
    elif part == "verify-key":
        data["verify_key"] = _flip(data["verify_key"])
    else:  # addresses are not signed by the export, but must be valid
        data["addresses"] = ["not an address"]
    path = write(tmp_path / "tampered.pub", json.dumps(data))
    before = accept.table_counts()
    assert_one_line_error(accept.cli("account", "import", path))
    assert accept.table_counts() == before
    assert accept.cli_json("account", "list", "--json") == []


def test_import_from_stdin_and_twice(node_factory: NodeFactory, export_text: str) -> None:
    node = node_factory.create("importer", modes=["accept", "exchange"])
    assert node.cli("account", "import", "-", input=export_text).returncode == 0
    rows = node.cli_json("account", "list", "--json")
    assert [r["addresses"] for r in rows] == [[ALICE]] and rows[0]["private_keys"] is False
    before = node.table_counts()
    assert_one_line_error(node.cli("account", "import", "-", input=export_text))
    assert node.table_counts() == before
    keysets = node.cli_json("keyset", "list", "--json")
    assert keysets and not any(k["private_here"] for k in keysets)


# --------------------------------------------------------------------------- messages and secrets


def test_message_show_bad_ids(client: Node) -> None:
    pw = client.passphrase_file
    assert_one_line_error(client.cli("message", "show", "xyz", "--passphrase-file", pw), "id")
    assert_one_line_error(client.cli("message", "show", "abc", "--passphrase-file", pw), "id")
    assert_one_line_error(client.cli("message", "show", "deadbeef" * 8, "--passphrase-file", pw), "deadbeef")
    assert_one_line_error(client.cli("message", "show", "0123456789abcdef", "--account", "zed@mesyx.test",
                                     "--passphrase-file", pw), "zed@mesyx.test")


def test_message_list_empty_is_json(client: Node) -> None:
    result = client.cli("message", "list", "--passphrase-file", client.passphrase_file, "--json")
    assert result.returncode == 0, result
    assert result.json() == []


def test_passphrase_file_missing_or_empty(client: Node, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pw"
    assert_one_line_error(client.cli("message", "list", "--passphrase-file", missing), str(missing))
    empty = write(tmp_path / "empty.pw", "")
    assert_one_line_error(client.cli("message", "list", "--passphrase-file", empty), "empty")
    newline_only = write(tmp_path / "newline.pw", "\n")
    assert_one_line_error(client.cli("message", "list", "--passphrase-file", newline_only), "empty")
    binary = tmp_path / "binary.pw"
    binary.write_bytes(b"\xff\xfe\x00")
    assert_one_line_error(client.cli("message", "list", "--passphrase-file", binary))
    assert_one_line_error(client.cli("message", "list", "--passphrase-file", tmp_path), str(tmp_path))


def test_wrong_passphrase(client: Node, tmp_path: Path) -> None:
    wrong = write(tmp_path / "wrong.pw", "not the passphrase")
    assert_one_line_error(client.cli("message", "list", "--passphrase-file", wrong), "passphrase")
    assert_one_line_error(client.cli("message", "list", "--passphrase-file", wrong, "--json"), "passphrase")


def test_passphrase_file_reads_only_the_first_line(client: Node, tmp_path: Path) -> None:
    assert client.passphrase_file is not None
    secret = client.passphrase_file.read_text().splitlines()[0]
    two_lines = write(tmp_path / "two.pw", secret + "\r\nsecond line\n")
    assert client.cli("message", "list", "--passphrase-file", two_lines).returncode == 0


def test_passwd(fresh: Node, tmp_path: Path) -> None:
    old = fresh.passphrase_file
    new = write(tmp_path / "new.pw", "second passphrase\n")
    result = fresh.cli("account", "passwd", ALICE, "--passphrase-file", old, "--new-passphrase-file", new)
    assert result.returncode == 0, result
    assert_one_line_error(fresh.cli("message", "list", "--passphrase-file", old), "passphrase")
    assert fresh.cli("message", "list", "--passphrase-file", new).returncode == 0
    # The wrong current passphrase changes nothing.
    third = write(tmp_path / "third.pw", "third passphrase")
    assert_one_line_error(fresh.cli("account", "passwd", ALICE, "--passphrase-file", old,
                                    "--new-passphrase-file", third), "passphrase")
    assert fresh.cli("message", "list", "--passphrase-file", new).returncode == 0
    empty = write(tmp_path / "empty.pw", "")
    assert_one_line_error(fresh.cli("account", "passwd", ALICE, "--passphrase-file", new,
                                    "--new-passphrase-file", empty), "empty")


def _app_password(result: CliResult) -> tuple[int, str]:
    assert result.returncode == 0, result
    # "app password ID (LABEL): PASSWORD"
    head, _, password = result.out.strip().rpartition(": ")
    app_id = int(head.split()[2])
    return app_id, password


def test_app_passwords(fresh: Node, tmp_path: Path) -> None:
    pw = fresh.passphrase_file
    phone_id, phone = _app_password(fresh.cli("account", "app-password", "add", ALICE, "--label", "phone",
                                              "--passphrase-file", pw))
    laptop_id, laptop = _app_password(fresh.cli("account", "app-password", "add", ALICE, "--label", "laptop",
                                                "--passphrase-file", pw))
    assert phone != laptop and phone_id != laptop_id
    listed = fresh.cli_json("account", "app-password", "list", ALICE, "--json")
    assert {(r["id"], r["label"]) for r in listed} == {(phone_id, "phone"), (laptop_id, "laptop")}
    assert phone not in json.dumps(listed)
    text = fresh.cli("account", "app-password", "list", ALICE, check=True).out
    assert "phone" in text and phone not in text

    phone_file = write(tmp_path / "phone.pw", phone)
    laptop_file = write(tmp_path / "laptop.pw", laptop)
    assert fresh.cli("message", "list", "--passphrase-file", phone_file).returncode == 0
    assert fresh.cli("message", "list", "--passphrase-file", laptop_file, "--json").json() == []

    assert fresh.cli("account", "app-password", "revoke", ALICE, phone_id).returncode == 0
    assert_one_line_error(fresh.cli("message", "list", "--passphrase-file", phone_file))
    assert fresh.cli("message", "list", "--passphrase-file", laptop_file).returncode == 0
    assert [r["id"] for r in fresh.cli_json("account", "app-password", "list", ALICE, "--json")] == [laptop_id]
    # Revoking again, or an id that never existed, is one clear line.
    assert_one_line_error(fresh.cli("account", "app-password", "revoke", ALICE, phone_id))
    assert_one_line_error(fresh.cli("account", "app-password", "revoke", ALICE, "notanumber"))
    # A passphrase change keeps app passwords working (DESIGN.md, Keys).
    new = write(tmp_path / "new.pw", "changed passphrase")
    fresh.cli("account", "passwd", ALICE, "--passphrase-file", pw, "--new-passphrase-file", new, check=True)
    assert fresh.cli("message", "list", "--passphrase-file", laptop_file).returncode == 0
    # An app password with a typo is refused.
    typo = write(tmp_path / "typo.pw", _flip_char(laptop))
    assert_one_line_error(fresh.cli("message", "list", "--passphrase-file", typo))


def _flip_char(value: str) -> str:
    i = next(i for i, c in enumerate(value) if c.isalpha())
    return value[:i] + ("b" if value[i] != "b" else "c") + value[i + 1:]


def test_app_password_add_needs_the_passphrase(fresh: Node, tmp_path: Path) -> None:
    wrong = write(tmp_path / "wrong.pw", "wrong")
    assert_one_line_error(fresh.cli("account", "app-password", "add", ALICE, "--label", "x",
                                    "--passphrase-file", wrong), "passphrase")
    assert fresh.cli_json("account", "app-password", "list", ALICE, "--json") == []


def test_keyset_list_json(client: Node, accept: Node) -> None:
    rows = client.cli_json("keyset", "list", "--json")
    roles = {r["role"] for r in rows}
    assert {"metadata", "short-term", "long-term"} <= roles
    assert sum(r["role"] == "metadata" for r in rows) == 1
    for row in rows:
        assert {"keyset_id", "role", "window", "from", "until", "status", "private_here"} <= set(row)
        assert row["status"] == "active" and row["private_here"] is True
    text = client.cli("keyset", "list", check=True).out
    assert "metadata" in text and "short-term" in text
    # An account-less node says so in one line.
    assert_one_line_error(accept.cli("keyset", "list", "--json"), "account")


def test_several_accounts_need_account_option(node_factory: NodeFactory) -> None:
    node = node_factory.create("two", account=ALICE)
    node.add_account("bob@mesyx.test")
    assert_one_line_error(node.cli("keyset", "list"), "--account")
    assert node.cli("keyset", "list", "--account", "bob@mesyx.test", "--json").returncode == 0
    assert_one_line_error(node.cli("keyset", "list", "--account", "carol@mesyx.test"), "carol@mesyx.test")


def test_account_list_and_remove(node_factory: NodeFactory) -> None:
    node = node_factory.create("rm", account=ALICE)
    node.add_account("bob@mesyx.test")
    rows = node.cli_json("account", "list", "--json")
    assert sorted(a for r in rows for a in r["addresses"]) == [ALICE, "bob@mesyx.test"]
    assert all(r["private_keys"] for r in rows)
    # Without --yes and without a terminal, remove asks and is aborted: nothing removed.
    assert node.cli("account", "remove", "bob@mesyx.test").returncode != 0
    assert node.table_counts()["accounts"] == 2
    assert node.cli("account", "remove", "bob@mesyx.test", "--yes").returncode == 0
    assert [r["addresses"] for r in node.cli_json("account", "list", "--json")] == [[ALICE]]
    assert_one_line_error(node.cli("account", "remove", "bob@mesyx.test", "--yes"), "bob@mesyx.test")


def test_alias_errors(client: Node) -> None:
    assert_one_line_error(client.cli("account", "alias", "add", ALICE, "not an address"), "address")
    assert_one_line_error(client.cli("account", "alias", "add", ALICE, ALICE), ALICE)
    assert_one_line_error(client.cli("account", "alias", "add", "zed@mesyx.test", "z@mesyx.test"), "zed@mesyx.test")
    assert_one_line_error(client.cli("account", "alias", "remove", ALICE, ALICE), "alias")


# --------------------------------------------------------------------------- broken config


BROKEN = [
    ("[smtp]\nmax_mesage_size = 10\n", "smtp.max_mesage_size"),
    ('[smtp]\nmax_message_size = "big"\n', "smtp.max_message_size"),
    ("[limits]\nmessages_per_sender_per_minute = -1\n", "limits.messages_per_sender_per_minute"),
    ("[bogus]\nx = 1\n", "bogus"),
    ("[smtp]\nstarttls = 1\n", "smtp.starttls"),
    ('[log]\nlevel = "loud"\n', "log.level"),
]


COMMANDS_READING_CONFIG = [["status", "--json"], ["run"]]


@pytest.fixture(scope="module")
def broken_node(module_node_factory: NodeFactory) -> Iterator[Node]:
    """An accept-only node whose mesyx.toml each test breaks; restored afterwards."""
    node = module_node_factory.create("broken", modes=["accept"])
    good = node.config_path.read_bytes()
    yield node
    node.config_path.write_bytes(good)


@pytest.fixture
def restore_config(broken_node: Node) -> Iterator[Node]:
    good = broken_node.config_path.read_bytes()
    yield broken_node
    broken_node.config_path.write_bytes(good)


@pytest.mark.parametrize(("extra", "key"), BROKEN, ids=[k for _, k in BROKEN])
def test_broken_config_is_one_line_naming_file_and_key(restore_config: Node, extra: str, key: str) -> None:
    node = restore_config
    with node.config_path.open("a", encoding="utf-8") as f:
        f.write("\n" + extra)
    for command in COMMANDS_READING_CONFIG:
        result = node.cli(*command, timeout=60)
        line = assert_one_line_error(result, key)
        assert str(node.config_path) in line, command
        assert result.stdout == b""
    assert not is_listening(node.port_base + 25)


UNPARSABLE = ["[node\nmodes = [", "\x00\x01", "modes = 3\n", "[node]\nmodes = []\n[ports]\nbase = 1\n"]


@pytest.mark.parametrize("text", UNPARSABLE, ids=["syntax", "binary", "no-section", "empty-modes"])
def test_unparsable_config(restore_config: Node, text: str) -> None:
    node = restore_config
    node.config_path.write_text(text, encoding="utf-8")
    for command in COMMANDS_READING_CONFIG:
        line = assert_one_line_error(node.cli(*command, timeout=60))
        assert str(node.config_path) in line, command


# --------------------------------------------------------------------------- --json


def test_json_outputs_are_stdout_only(client: Node) -> None:
    pw = client.passphrase_file
    for args in (["status", "--json"], ["account", "list", "--json"], ["keyset", "list", "--json"],
                 ["message", "list", "--passphrase-file", pw, "--json"],
                 ["account", "app-password", "list", ALICE, "--json"]):
        result = client.cli(*args)
        assert result.returncode == 0, result
        json.loads(result.stdout)  # stdout alone is the JSON document
        assert not result.err.lstrip().startswith(("{", "[")), result


def test_status_json_shape(client: Node) -> None:
    status: dict[str, Any] = client.status()
    assert status["running"] is False and status["pid"] is None
    assert status["node_id"] and len(status["node_id"]) == 32
    assert status["ports"]["smtp"] == client.port_base + 25
    assert set(status["store"]) >= {"accounts", "envelopes", "operations"}
