"""schemathesis against ``/openapi.json`` (issue 4 acceptance): every route, authenticated,
no 5xx and no reply that breaks the document, with every check schemathesis has.

It runs as the real CLI, as a person would. Logout is fuzzed in a run of its own, after
the others, because it revokes the token the others use. The event stream is left out:
it answers 200 and then never ends (server-sent events), which schemathesis would wait
on until its timeout; tests/client_rest/test_events.py covers it.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from mesyx.crypto.encoding import b32
from mesyx.modes.client.index import IndexWriter
from tests.client_rest.conftest import Accounts, fill_mailbox, login, make_accounts, make_writer, running_service
from tests.client_rest.test_messages import MULTIPART

pytestmark = pytest.mark.slow

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


def _run(url: str, token: str, seconds: int, workdir: Path, *args: str, config: Path | None = None) -> None:
    options = ["--config-file", str(config)] if config is not None else []
    cmd = [
        str(SCHEMATHESIS), *options, "run", f"{url}/openapi.json", "--checks", "all", "--workers", "1",
        "-H", f"Authorization: Bearer {token}", "--max-time", str(seconds), "--seed", "4", *args,
    ]  # fmt: skip
    # In a temporary directory: schemathesis keeps its example database in ./.schemathesis.
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=workdir)
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    # The token must work: no operation may answer only 401/403, except the login itself,
    # whose fuzzed credentials are wrong by construction.
    warned = result.stdout.partition("Authentication failed")[2].partition("\N{ELECTRIC LIGHT BULB}")[0]
    refused = [line.strip() for line in warned.splitlines() if line.strip().startswith("- ")]
    assert set(refused) <= {"- POST /v1/login"}, result.stdout[-4000:]


@pytest.fixture(scope="module")
def accounts(tmp_path_factory: pytest.TempPathFactory) -> Accounts:
    """A store of its own: the fuzzing renames and deletes mailboxes, which the other
    tests' mailboxes must not meet (a renamed parent made their CREATE fail)."""
    return make_accounts(tmp_path_factory.mktemp("rest-fuzz"))


@pytest.fixture(scope="module")
def writer(accounts: Accounts) -> IndexWriter:
    return make_writer(accounts)


def test_no_route_breaks_its_schema_or_fails(accounts: Accounts, tmp_path: Path) -> None:
    with running_service(accounts.store) as rest:
        token = login(rest.url).json()["token"]
        _run(rest.url, token, 20, tmp_path, "--exclude-operation-id", "logout", "--exclude-operation-id", "events")
        _run(rest.url, token, 5, tmp_path, "--include-operation-id", "logout")


def test_message_routes_on_a_real_message(accounts: Accounts, writer: IndexWriter, tmp_path: Path) -> None:
    """The message routes again, their ids fixed to a real multipart message and its
    mailbox (random ids only reach the 404), so the fuzzing gets past the lookup: parts,
    keywords, moves, listings and searches of a mailbox that has mail. DELETE is left
    out (the first call would leave nothing to fuzz); the run above covers it."""
    # A top-level name of its own: the run above may have renamed any mailbox it found.
    mailbox_id, (eid,) = fill_mailbox(writer, f"Fuzz-{uuid.uuid4().hex[:8]}", [(MULTIPART, 1_700_000_000.0)])
    config = tmp_path / "schemathesis.toml"
    config.write_text(f'[parameters]\n"path.message_id" = "{b32(eid)}"\n"path.mailbox_id" = "{mailbox_id}"\n'
                      f'"query.mailbox" = "{mailbox_id}"\n')  # fmt: skip
    with running_service(accounts.store) as rest:
        token = login(rest.url).json()["token"]
        _run(rest.url, token, 15, tmp_path, "--include-tag", "messages", "--exclude-operation-id", "delete_message",
             config=config)  # fmt: skip
