"""Fixtures shared by every test module.

The real implementations live in ``tests/fixtures/``; importing them here makes them
available everywhere under ``tests/``. The repository root goes on ``sys.path`` so that
``tests.fixtures`` imports the same way under ``python -m pytest`` and a bare ``pytest``.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.fixtures.nodes import mesyx_installed, module_node_factory, node_factory  # noqa: E402
from tests.fixtures.postgres import free_port, postgres_server, postgres_url  # noqa: E402

__all__ = [
    "free_port", "postgres_server", "postgres_url", "mesyx_installed", "node_factory", "module_node_factory",
]
