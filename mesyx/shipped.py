"""Where the shipped data (keyset policies, SIEVE scripts) lives once installed.

setup.cfg installs ``keysets/`` and ``sieve/`` under ``<prefix>/share/mesyx/``; in a
source checkout they sit beside the package. Both are looked at, installed first.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mesyx.errors import NotFound

__all__ = ["shipped_dir"]


def shipped_dir(name: str) -> Path:
    candidates = [Path(sys.prefix) / "share" / "mesyx" / name, Path(__file__).resolve().parent.parent / name]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise NotFound(f"shipped {name}/ not found (looked in {', '.join(map(str, candidates))})")
