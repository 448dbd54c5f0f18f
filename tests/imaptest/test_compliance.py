"""Dovecot's imaptest compliance scripts against a real Mesyx node (issue 3, acceptance).

The bar: no script fails, none times out, at least 50 of the 72 pass, and every script
is run that needs no capability or only capabilities issue 3 asks for (point 3): a
script skipped for lack of one of those means an extension is missing. Scripts that need
only extensions the issue leaves optional (THREAD, CONTEXT, CATENATE) or does not ask
for (NOTIFY, URLAUTH) may skip.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.daemon import DEFAULT_PASSPHRASE, Node, NodeFactory, is_listening, wait_for
from tests.imaptest.conftest import Imaptest

pytestmark = [pytest.mark.slow, pytest.mark.imaptest]

ADDRESS = "imaptest@mesyx.test"

#: The extensions issue 3 (point 3) requires, as imaptest names them (upper case).
REQUIRED: frozenset[str] = frozenset({
    "IMAP4REV2", "IDLE", "NAMESPACE", "UNSELECT", "ENABLE", "ID", "SPECIAL-USE", "CREATE-SPECIAL-USE",
    "LIST-EXTENDED", "LIST-STATUS", "MOVE", "UIDPLUS", "MULTIAPPEND", "LITERAL+", "ESEARCH", "SEARCHRES",
    "CONDSTORE", "QRESYNC", "BINARY", "SORT", "SORT=DISPLAY", "ESORT", "COMPRESS=DEFLATE",
})
MIN_PASSED = 50


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    factory = NodeFactory(tmp_path_factory.mktemp("imaptest"))
    node = factory.create("n", account=ADDRESS, modes=["accept", "client"])
    node.start()
    port = node.config().ports.imap
    wait_for(lambda: is_listening(port), timeout=20, what=f"IMAP port {port}")
    try:
        yield node
    finally:
        factory.close()


def _run(tool: Imaptest, node: Node, out: Path, **env: str) -> tuple[int, str, dict[str, object]]:
    done = subprocess.run(
        ["bash", str(tool.run_script), "127.0.0.1", str(node.config().ports.imap), ADDRESS, DEFAULT_PASSPHRASE,
         str(out)],
        env={**os.environ, "IMAPTEST_BUILD": str(tool.build), **env},
        capture_output=True, text=True, timeout=1800, check=False,
    )
    summary_file = out / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    return done.returncode, done.stdout + done.stderr, summary


def test_compliance_scripts(imaptest: Imaptest, node: Node, tmp_path: Path) -> None:
    code, output, summary = _run(imaptest, node, tmp_path / "out", SKIP_LOAD="1", TEST_TIMEOUT="60")
    assert "compliance" in summary, f"imaptest harness gave no summary (exit {code}):\n{output[-3000:]}"
    result = summary["compliance"]
    assert isinstance(result, dict)
    report = output[output.find("== (a)"):][-4000:]
    assert result["failed"] == 0 and not result["timed_out"] and not result["no_result"], report
    missing = [
        (name, caps) for name, caps in result["skipped_caps"].items()
        if all(cap.upper() in REQUIRED for cap in caps.split())
    ]
    assert not missing, f"scripts skipped for lack of a capability issue 3 requires: {missing}"
    assert result["passed"] >= MIN_PASSED, report
    assert code == 0, report
