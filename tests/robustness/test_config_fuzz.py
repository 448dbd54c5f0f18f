"""Malformed ``mesyx.toml`` as the daemon and the CLI see it (issue 2, "Bad input").

``mesyx run`` and ``mesyx status`` are run as subprocesses against corrupted config
files: truncated, binary, wrong types, unknown keys, duplicate keys and tables, odd TOML
structure. Each must end with a non-zero exit and exactly one line on stderr that names
the file (and the key, where one is to blame), no traceback, nothing on stdout, and
``run`` must exit without ever listening. The unit-level config fuzzing lives in
tests/test_config.py; this is the same contract seen from outside the process.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.helpers.daemon import CliResult, Node, assert_one_line_error, create_node, is_listening, run_cli

#: A bad config is found before anything starts; this only bounds a daemon that would run.
RUN_TIMEOUT = 20.0

NODE = '[node]\nmodes = ["accept", "client"]\n'
PORTS = "[ports]\nbase = {base}\n"

#: (id, file content with {base} for the port base, fragments the error line must hold)
CASES: list[tuple[str, bytes | str, tuple[str, ...]]] = [
    ("empty", "", ()),
    ("truncated-table-header", NODE + PORTS[:4], ()),
    ("truncated-array", '[node]\nmodes = ["accept", "cli', ()),
    ("truncated-value", NODE + "[ports]\nbase =", ()),
    ("binary-garbage", bytes(range(256)) * 4, ()),
    ("utf-16", (NODE + PORTS).encode("utf-16"), ()),
    ("not-toml", "this is not a config file\n", ()),
    ("modes-string", '[node]\nmodes = "accept"\n' + PORTS, ("node.modes",)),
    ("modes-unknown", '[node]\nmodes = ["accept", "relay"]\n' + PORTS, ("node.modes",)),
    ("base-string", NODE + '[ports]\nbase = "x"\n', ("ports.base",)),
    ("base-too-big", NODE + "[ports]\nbase = 70000\n", ("ports.base",)),
    ("base-huge", NODE + "[ports]\nbase = 99999999999999999999999999999999999999\n", ("ports.base",)),
    ("timeout-string", NODE + PORTS + '[smtp]\ntimeout = "fast"\n', ("smtp.timeout",)),
    ("timeout-nan", NODE + PORTS + "[smtp]\ntimeout = nan\n", ("smtp.timeout",)),
    ("starttls-string", NODE + PORTS + '[smtp]\nstarttls = "yes"\n', ("smtp.starttls",)),
    ("hostname-bad", '[node]\nmodes = ["accept"]\nhostname = "not a host!"\n' + PORTS, ("node.hostname",)),
    ("url-mysql", NODE + PORTS + '[storage]\nurl = "mysql://u:secret@h/db"\n', ("storage.url",)),
    ("log-level", NODE + PORTS + '[log]\nlevel = "loud"\n', ("log.level",)),
    ("unknown-key", NODE + PORTS + "[smtp]\nbogus = 1\n", ("smtp.bogus",)),
    ("unknown-section", NODE + PORTS + "[smpt]\ntimeout = 10\n", ("smpt",)),
    ("section-not-table", "node = 5\n" + PORTS, ("node",)),
    ("array-of-tables", '[[node]]\nmodes = ["accept"]\n' + PORTS, ("node",)),
    ("duplicate-key", '[node]\nmodes = ["accept"]\nmodes = ["client"]\n' + PORTS, ()),
    ("duplicate-table", NODE + PORTS + NODE, ()),
    ("no-modes", "[node]\n" + PORTS, ("node.modes",)),
    ("no-base", NODE, ("ports",)),
    ("deep-nesting", NODE + PORTS + "[smtp]\nx = " + "[" * 20000 + "\n", ()),
]


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = create_node(tmp_path_factory.mktemp("config") / "home")
    good = node.config_path.read_bytes()
    yield node
    node.config_path.write_bytes(good)


def write_config(node: Node, content: bytes | str) -> None:
    data = content.replace("{base}", str(node.port_base)) if isinstance(content, str) else content
    node.config_path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


def assert_config_error(node: Node, result: CliResult, fragments: tuple[str, ...]) -> None:
    line = assert_one_line_error(result, str(node.config_path), *fragments)
    assert result.stdout == b"", f"stdout not empty: {result}"
    assert "secret" not in line, f"the error line shows the database password: {line}"


#: Cases also tried with ``mesyx run`` (it loads the file as ``status`` does; one per kind
#: keeps the module quick, every CLI call being mostly interpreter start-up).
RUN_TOO = {"truncated-array", "binary-garbage", "base-string", "timeout-nan", "unknown-key", "duplicate-key",
           "duplicate-table", "deep-nesting"}  # fmt: skip


@pytest.mark.parametrize("case, content, fragments", CASES, ids=[i for i, _, _ in CASES])
def test_bad_config(node: Node, case: str, content: bytes | str, fragments: tuple[str, ...]) -> None:
    write_config(node, content)
    commands = [("status", "--json"), ("run",)] if case in RUN_TOO else [("status", "--json")]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda args: node.cli(*args, timeout=RUN_TIMEOUT), commands))
    for result in results:
        assert_config_error(node, result, fragments)
    if case in RUN_TOO:
        run = results[1]
        assert not is_listening(node.port_base + 25), "something listens on the node's SMTP port"
        assert "started" not in run.err and "listening" not in run.err, run


def test_config_is_a_directory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "mesyx.toml").mkdir(parents=True)
    for args in (("status",), ("run",)):
        result = run_cli(*args, home=home, timeout=RUN_TIMEOUT)
        assert_one_line_error(result, str(home / "mesyx.toml"))


def test_no_config_at_all(tmp_path: Path) -> None:
    home = tmp_path / "never-initialised"
    for args in (("status", "--json"), ("run",)):
        result = run_cli(*args, home=home, timeout=RUN_TIMEOUT)
        assert_one_line_error(result, str(home / "mesyx.toml"), "init")
        assert result.stdout == b""


def test_mutated_configs(node: Node, tmp_path: Path) -> None:
    """Seeded random byte edits of a good file: ``status`` either works (the edit was
    harmless) or fails with one line naming the file; never a traceback."""
    write_config(node, NODE + PORTS + "[smtp]\ntimeout = 60.0\nstarttls = true\n[log]\nlevel = \"info\"\n")
    good = node.config_path.read_bytes()
    rng = random.Random(20261123)
    homes = []
    for number in range(12):
        data = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            edit = rng.choice(["flip", "insert", "delete", "cut"])
            if edit == "flip" and at < len(data):
                data[at] = rng.randrange(256)
            elif edit == "insert":
                data[at:at] = bytes([rng.choice(b'[]="\n\\#.,{}\x00\xff')])
            elif edit == "delete":
                del data[at : at + rng.randint(1, 8)]
            else:
                del data[at:]
        home = tmp_path / f"home{number}"
        shutil.copytree(node.home, home)
        (home / "mesyx.toml").write_bytes(bytes(data))
        homes.append(home)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda h: run_cli("status", "--json", home=h, timeout=RUN_TIMEOUT), homes))
    for home, result in zip(homes, results, strict=True):
        if result.returncode == 0:
            assert "node_id" in result.json(), result
        else:
            line = assert_one_line_error(result, str(home / "mesyx.toml"))
            assert result.stdout == b"", (line, result)
