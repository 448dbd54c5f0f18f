"""The REST listener of a real daemon (``mesyx run``), driven with curl: autoconfig names the
daemon's configured ports, login / account / logout work, the document is served."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.client_rest.conftest import curl, login
from tests.client_rest.test_autoconfig import _check
from tests.helpers.daemon import DEFAULT_PASSPHRASE, Node, NodeFactory, is_listening, wait_for

pytestmark = pytest.mark.slow

ADDRESS = "tess@mesyx.test"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    root: Path = tmp_path_factory.mktemp("rest-daemon")
    factory = NodeFactory(root)
    node = factory.create("n", account=ADDRESS, modes=["accept", "client"],
                          config={"node": {"hostname": "mail.mesyx.test"}})  # fmt: skip
    node.start()
    port = node.config().ports.rest
    wait_for(lambda: is_listening(port), timeout=20, what=f"REST port {port}")
    try:
        yield node
    finally:
        factory.close()


def _url(node: Node) -> str:
    return f"http://127.0.0.1:{node.config().ports.rest}"


def test_autoconfig_names_the_daemon_ports(node: Node) -> None:
    ports: Any = node.config().ports
    reply = curl(f"{_url(node)}/mail/config-v1.1.xml?emailaddress=tess%40mesyx.test")
    assert reply.status == 200
    _check(reply.body, domain="mesyx.test", imaps=ports.imaps, imap=ports.imap, smtps=ports.smtps,
           submission=ports.submission)  # fmt: skip


def test_login_account_logout(node: Node) -> None:
    url = _url(node)
    assert login(url, ADDRESS, "wrong").status == 401
    token = login(url, ADDRESS, DEFAULT_PASSPHRASE).json()["token"]
    assert curl(f"{url}/v1/account", token=token).json()["address"] == ADDRESS
    assert curl(f"{url}/v1/logout", method="POST", token=token).status == 204
    assert curl(f"{url}/v1/account", token=token).status == 401


def test_document_and_docs(node: Node) -> None:
    validate(curl(f"{_url(node)}/openapi.json").json())
    assert curl(f"{_url(node)}/docs").status == 200
