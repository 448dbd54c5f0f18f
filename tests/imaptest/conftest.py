"""Fixtures: Dovecot's imaptest, built once per machine from ``shared/tools/imaptest``.

The build (``build.sh``, about 20 s plus the Debian packages it installs: dovecot-dev,
build tools) is cached under ``$XDG_CACHE_HOME/mesyx/imaptest-<tarball digest>`` (default
``~/.cache``), so a second run starts at once. The harness lives in the shared tools
folder beside the project (``../shared/tools/imaptest`` from the checkout); without it,
or where the build cannot install its packages, the tests skip and say why.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO.parent / "shared" / "tools" / "imaptest"
TARBALL = TOOLS / "imaptest-9d78895.tar.gz"
BUILD_TIMEOUT = 900


@dataclass(frozen=True)
class Imaptest:
    """A built imaptest and the harness that runs it."""

    build: Path
    run_script: Path
    anchor_script: Path

    @property
    def binary(self) -> Path:
        return self.build / "bin" / "imaptest"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mesyx"


@pytest.fixture(scope="session")
def imaptest() -> Imaptest:
    if not TARBALL.is_file():
        pytest.skip(f"imaptest harness not found at {TOOLS} (the shared tools folder beside the checkout)")
    digest = hashlib.sha256(TARBALL.read_bytes()).hexdigest()[:12]
    build = _cache_root() / f"imaptest-{digest}"
    found = Imaptest(build, TOOLS / "run.sh", TOOLS / "anchor-dovecot.sh")
    if found.binary.is_file() and os.access(found.binary, os.X_OK):
        return found
    build.parent.mkdir(parents=True, exist_ok=True)
    log = build.parent / f"imaptest-{digest}.build.log"
    with log.open("wb") as out:
        done = subprocess.run(
            ["bash", str(TOOLS / "build.sh"), str(TARBALL), str(build)],
            stdout=out, stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT, check=False,
        )
    if done.returncode != 0 or not found.binary.is_file():
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        pytest.fail(f"building imaptest failed (exit {done.returncode}, log {log}): {' / '.join(tail)}")
    return found
