"""Fixtures that start Mesyx nodes (see ``tests/helpers/daemon.py`` for the helpers).

``node_factory`` (function scope) and ``module_node_factory`` (module scope) hand out a
:class:`~tests.helpers.daemon.NodeFactory` whose nodes are all stopped when the scope
ends; a module that shares one running daemon between its tests uses the latter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.daemon import MESYX, NodeFactory


@pytest.fixture(scope="session", autouse=True)
def _mesyx_installed() -> None:
    if not MESYX.exists():
        pytest.fail(f"{MESYX} not found: install Mesyx into the venv (pip install -e '.[test]')")


@pytest.fixture
def node_factory(tmp_path: Path) -> Iterator[NodeFactory]:
    factory = NodeFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="module")
def module_node_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeFactory]:
    factory = NodeFactory(tmp_path_factory.mktemp("nodes"))
    try:
        yield factory
    finally:
        factory.close()
