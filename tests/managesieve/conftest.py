"""One real node (accept + client) per module, with its ManageSieve port listening."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.daemon import DEFAULT_PASSPHRASE, Node, NodeFactory, is_listening, wait_for

USER = "sieve-user@mesyx.test"
PASSPHRASE = DEFAULT_PASSPHRASE


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    root: Path = tmp_path_factory.mktemp("managesieve")
    factory = NodeFactory(root)
    node = factory.create("n", account=USER, modes=["accept", "client"])
    node.start()
    port = node.config().ports.managesieve
    wait_for(lambda: is_listening(port), timeout=20, what=f"ManageSieve on {port}")
    try:
        yield node
    finally:
        factory.close()
