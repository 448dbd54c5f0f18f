"""``mesyx index rebuild`` and ``mesyx index status`` through the installed console script."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesyx.crypto.envelope import InnerRecord
from mesyx.home import Home
from mesyx.store.mailbox_ids import MailboxRole, role_mailbox_id
from mesyx.store.mailcrypt import load_sealing_keys
from tests.helpers.daemon import MESYX, Node, NodeFactory, assert_one_line_error

ALICE = "alice@mesyx.test"

pytestmark = pytest.mark.skipif(not MESYX.exists(), reason="the mesyx console script is not installed")


@pytest.fixture(scope="module")
def factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeFactory]:
    made = NodeFactory(tmp_path_factory.mktemp("index-cli"))
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(scope="module")
def client(factory: NodeFactory) -> Node:
    """A client node with alice and three delivered messages (the daemon is not running)."""
    node = factory.create("client", account=ALICE)
    home = Home(node.home)
    store = home.open_store(home.config(), home.node_keys())
    try:
        record = store.find_account(ALICE)
        keys = load_sealing_keys(store, record)
        inbox = role_mailbox_id(record.account_id, MailboxRole.INBOX)
        now = time.time()
        store.commit_ingest([
            keys.seal(InnerRecord(now + i, "smtp", "bob@ext.test", (ALICE,), (inbox,)), b"Subject: %d\r\n\r\nx\r\n" % i)
            for i in range(3)
        ])
    finally:
        store.close()
    return node


def status(node: Node) -> dict[str, dict[str, object]]:
    data = node.cli_json("index", "status", "--passphrase-file", node.passphrase_file, "--json")
    assert data["account"] == ALICE
    return {box["name"]: box for box in data["mailboxes"]}


def test_status_and_rebuild(client: Node) -> None:
    before = status(client)
    assert set(before) == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}
    inbox = before["INBOX"]
    assert (inbox["messages"], inbox["unseen"], inbox["uidnext"], inbox["role"]) == (3, 3, 4, "inbox")
    result = client.cli("index", "rebuild", "--passphrase-file", client.passphrase_file, check=True)
    assert result.out.strip() == f"rebuilt the index of {ALICE}: 3 messages in 6 mailboxes"
    assert result.err == ""  # no progress bar when stderr is not a terminal
    after = status(client)
    for name, box in before.items():
        assert (after[name]["uidvalidity"], after[name]["uidnext"]) == (box["uidvalidity"], box["uidnext"])
    text = client.cli("index", "status", "--account", ALICE, "--passphrase-file", client.passphrase_file,
                      check=True).out
    assert "index of alice@mesyx.test: 3 messages cached" in text
    assert any(line.split()[:2] == ["INBOX", "3"] for line in text.splitlines())


def test_wrong_passphrase(client: Node, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not it\n", encoding="utf-8")
    assert_one_line_error(client.cli("index", "rebuild", "--passphrase-file", wrong), "passphrase")


def test_unknown_account(client: Node) -> None:
    result = client.cli("index", "status", "--account", "nobody@mesyx.test",
                        "--passphrase-file", client.passphrase_file)
    assert_one_line_error(result, "nobody@mesyx.test")


def test_refused_on_a_node_that_is_not_a_client(factory: NodeFactory, tmp_path: Path) -> None:
    node = factory.create("accept", modes=["accept"])
    pw = tmp_path / "pw"
    pw.write_text("x\n", encoding="utf-8")
    for command in ("status", "rebuild"):
        assert_one_line_error(node.cli("index", command, "--passphrase-file", pw), "client")
    assert not [name for name in node.table_counts() if name.startswith("index_")]


HEAVY = ("sqlalchemy", "nacl", "mesyx.store.store", "mesyx.modes.client.index")


@pytest.mark.parametrize("args", [["index", "--help"], ["index", "rebuild", "--help"], ["index", "status", "-h"]])
def test_help_imports_no_heavy_module(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from mesyx.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"sys.stderr.write(repr([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "[]"
    assert proc.stdout.startswith(f"Usage: mesyx {' '.join(a for a in args if not a.startswith('-'))}")


def test_status_while_the_daemon_runs(factory: NodeFactory) -> None:
    """The CLI works while the daemon runs (DESIGN.md): both sync the same index."""
    from tests.helpers.daemon import make_message

    node = factory.create("running", account=ALICE)
    node.start()
    try:
        for n in range(2):
            result = node.send("bob@ext.test", [ALICE], make_message(subject=f"live {n}", body="hello"))
            assert result.ok, result
        inbox = status(node)["INBOX"]
        assert (inbox["messages"], inbox["uidnext"]) == (2, 3)
        again = node.cli("index", "rebuild", "--passphrase-file", node.passphrase_file, check=True)
        assert "2 messages" in again.out
        assert status(node)["INBOX"]["uidvalidity"] == inbox["uidvalidity"]
    finally:
        assert node.stop() == 0
