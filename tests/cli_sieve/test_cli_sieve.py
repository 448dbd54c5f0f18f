"""``mesyx sieve``: check and test files without a home; put/get/list/activate/delete on one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.daemon import Node, NodeFactory, assert_one_line_error, run_cli, scan_bytes

USER = "cli-sieve@mesyx.test"
SCRIPT = 'require ["fileinto", "imap4flags"];\nif header :contains "Subject" "wombat-digest" {\n' \
         '  fileinto :flags "\\\\Seen" "Wombats";\n  stop;\n}\n'
MESSAGE = (b"From: Someone <someone@ext.test>\r\nTo: cli-sieve@mesyx.test\r\n"
           b"Subject: the wombat-digest of today\r\n\r\nhello\r\n")
NAME = "wombat-sorter"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("files")
    (root / "good.sieve").write_text(SCRIPT, encoding="utf-8")
    (root / "bad.sieve").write_text('require "fileinto";\n\nfileinto :bogus "x";\n', encoding="utf-8")
    (root / "reject.sieve").write_text('require "reject";\nreject "no \\"thanks\\"";\n', encoding="utf-8")
    (root / "message.eml").write_bytes(MESSAGE)
    (root / "other.eml").write_bytes(MESSAGE.replace(b"wombat-digest", b"news"))
    return root


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Node:
    factory = NodeFactory(tmp_path_factory.mktemp("nodes"))
    return factory.create("n", account=USER, modes=["accept", "client"])


# -- check and test: files only, no home ----------------------------------------------


def test_check(files: Path, tmp_path: Path) -> None:
    nowhere = tmp_path / "no-home"  # no database is opened: a missing home does not matter
    ok = run_cli("sieve", "check", files / "good.sieve", home=nowhere)
    assert (ok.returncode, ok.out) == (0, "ok\n")
    bad = run_cli("sieve", "check", files / "bad.sieve", home=nowhere)
    line = assert_one_line_error(bad, "bogus")
    assert bad.returncode == 1 and line.startswith(f"{files / 'bad.sieve'}:3:10: ")
    assert not nowhere.exists()
    assert_one_line_error(run_cli("sieve", "check", files / "missing.sieve"), "no such file")


def test_test_prints_the_actions(files: Path) -> None:
    done = run_cli("sieve", "test", files / "good.sieve", files / "message.eml", check=True)
    assert done.out == 'fileinto "Wombats" :flags "\\\\Seen"\n'
    done = run_cli("sieve", "test", files / "good.sieve", files / "other.eml", check=True)
    assert done.out == "keep\n", "the implicit keep prints as keep"
    done = run_cli("sieve", "test", files / "reject.sieve", files / "message.eml", "--from", "a@ext.test",
                   "--to", USER, check=True)
    assert done.out == 'reject "no \\"thanks\\""\n'
    bad = run_cli("sieve", "test", files / "bad.sieve", files / "message.eml")
    assert_one_line_error(bad, ":3:10:")


def test_help_is_fast_and_lists_the_commands() -> None:
    done = run_cli("sieve", "--help", check=True)
    for command in ("check", "test", "put", "get", "list", "activate", "delete"):
        assert command in done.out


# -- the account's scripts on a node --------------------------------------------------


def test_put_list_get_activate_delete(node: Node, files: Path, tmp_path: Path) -> None:
    node.cli("sieve", "put", NAME, files / "good.sieve", "--account", USER, check=True)
    node.cli("sieve", "put", "spare", files / "reject.sieve", check=True)  # the only account: implied
    assert node.cli("sieve", "list", check=True).out == f"spare\n{NAME}\n"
    assert node.cli("sieve", "get", NAME, check=True).stdout == SCRIPT.encode()
    node.cli("sieve", "activate", NAME, check=True)
    assert node.cli("sieve", "list", check=True).out == f"spare\n{NAME}  (active)\n"
    listed = json.loads(node.cli("sieve", "list", "--json", check=True).out)
    assert listed == {"scripts": ["spare", NAME], "active": NAME}
    assert_one_line_error(node.cli("sieve", "delete", NAME), "active")
    assert_one_line_error(node.cli("sieve", "get", "nope"), "no script named")
    assert_one_line_error(node.cli("sieve", "activate"), "--none")
    assert_one_line_error(node.cli("sieve", "put", "x", files / "bad.sieve"), ":3:10:")
    assert_one_line_error(node.cli("sieve", "put", "bad\tname", files / "good.sieve"), "control")
    # The scripts and their names are only in sealed payloads.
    assert scan_bytes(node.home, [NAME, "wombat", "Wombats", "thanks"]) == {}
    node.cli("sieve", "activate", "--none", check=True)
    node.cli("sieve", "delete", NAME, check=True)
    node.cli("sieve", "put", "spare", files / "good.sieve", "--activate", check=True)
    assert json.loads(node.cli("sieve", "list", "--json", check=True).out) == {"scripts": ["spare"],
                                                                                "active": "spare"}


def test_an_accept_only_node_cannot_change_scripts(node: Node, files: Path, tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    node.cli("account", "export", USER, "-o", export, check=True)
    factory = NodeFactory(tmp_path)
    accept = factory.create("accept", modes=["accept"])
    accept.cli("account", "import", export, check=True)
    assert_one_line_error(accept.cli("sieve", "put", NAME, files / "good.sieve"), "client node")
    assert accept.cli("sieve", "list", check=True).out == ""


def test_check_and_test_load_no_store(files: Path) -> None:
    """DESIGN.md: `sieve` commands start fast; check and test import neither the store nor
    SQLAlchemy nor the crypto library."""
    code = (
        "import sys\nfrom mesyx.cli.app import main\n"
        f"main(['sieve', 'test', {str(files / 'good.sieve')!r}, {str(files / 'message.eml')!r}])\n"
        "loaded = [m for m in sys.modules if m.startswith(('sqlalchemy', 'mesyx.store', 'nacl'))]\n"
        "assert not loaded, loaded\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == 'fileinto "Wombats" :flags "\\\\Seen"\n'
