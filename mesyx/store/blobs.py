"""Content-addressed files for large envelope bodies.

A body above the threshold is written to a temporary name, fsynced, renamed to its
envelope id, and the directory fsynced, all *before* the row that names it commits
(DESIGN.md, Storage): a crash leaves at worst an unreferenced file, never a row that
points at nothing.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from mesyx.errors import Corrupt

__all__ = ["BlobFiles"]


class BlobFiles:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, envelope_id: bytes) -> Path:
        name = envelope_id.hex()
        return self.root / name[:2] / name

    def write(self, envelope_id: bytes, body: bytes) -> None:
        target = self.path(envelope_id)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.parent / f".tmp-{secrets.token_hex(8)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        finally:
            if temp.exists():
                temp.unlink()
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def read(self, envelope_id: bytes) -> bytes:
        try:
            return self.path(envelope_id).read_bytes()
        except FileNotFoundError as exc:
            raise Corrupt(f"body file of envelope {envelope_id.hex()[:16]} is missing") from exc

    def names(self) -> Iterator[tuple[Path, bytes | None]]:
        """Every file here with the envelope id it holds (None: a temporary file)."""
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                try:
                    yield path, bytes.fromhex(path.name) if not path.name.startswith(".tmp-") else None
                except ValueError:
                    continue  # not ours: leave it alone

    def remove(self, envelope_id: bytes) -> None:
        self.path(envelope_id).unlink(missing_ok=True)
