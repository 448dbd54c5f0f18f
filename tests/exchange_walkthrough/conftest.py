"""Real daemons for the walk-through: the integration tests' node factory (stops every node)."""

from __future__ import annotations

from tests.integration.conftest import _mesyx_installed, node_factory

__all__ = ["_mesyx_installed", "node_factory"]
