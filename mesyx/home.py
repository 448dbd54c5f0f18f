"""A node's home directory: what lives where, and opening it.

    <home>/mesyx.toml          configuration (mesyx.toml.example documents every key)
    <home>/node.key            the node's Ed25519 seed (0600): its whole identity
    <home>/tls/cert.pem, key.pem   self-signed ECDSA P-256 certificate for TLS
    <home>/descriptor.json     the node's signed descriptor (keys, TLS pin, modes): public
    <home>/data/mesyx.sqlite3  the store (unless storage.url names PostgreSQL)
    <home>/data/blobs/         content-addressed files of large envelope bodies
    <home>/run/mesyx.pid       pid of the running daemon, locked while it runs
"""

from __future__ import annotations

import fcntl
import json
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from mesyx.config import Config, Mode, load_config, render_config
from mesyx.crypto.node import NodeKeys, sign_descriptor, verify_descriptor
from mesyx.crypto.tls import generate_certificate, server_context, spki_sha256
from mesyx.errors import Corrupt, Exists, NotFound, Temporary
from mesyx.store.store import Store

__all__ = ["Home", "PidLock"]


@dataclass(frozen=True)
class Home:
    root: Path

    @property
    def config_path(self) -> Path:
        return self.root / "mesyx.toml"

    @property
    def node_key_path(self) -> Path:
        return self.root / "node.key"

    @property
    def cert_path(self) -> Path:
        return self.root / "tls" / "cert.pem"

    @property
    def cert_key_path(self) -> Path:
        return self.root / "tls" / "key.pem"

    @property
    def descriptor_path(self) -> Path:
        return self.root / "descriptor.json"

    @property
    def pid_path(self) -> Path:
        return self.root / "run" / "mesyx.pid"

    def create(self, *, modes: list[Mode], port_base: int, hostname: str) -> tuple[Config, NodeKeys]:
        """Lay out a new home: config, node key, certificate, empty store."""
        if self.config_path.exists() or self.node_key_path.exists():
            raise Exists(f"{self.root} is initialised already (remove it to start over)")
        text = render_config(modes=modes, port_base=port_base, hostname=hostname)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for sub in ("tls", "data", "run"):
            (self.root / sub).mkdir(exist_ok=True, mode=0o700)
        keys = NodeKeys.generate()
        keys.save(self.node_key_path)
        generate_certificate(self.cert_path, self.cert_key_path, common_name=hostname)
        self.config_path.write_text(text, encoding="utf-8")
        config = load_config(self.root)
        self.write_descriptor(config, keys)
        store = self.open_store(config, keys)
        try:
            store.create_schema()
        finally:
            store.close()
        return config, keys

    def write_descriptor(self, config: Config, keys: NodeKeys) -> dict[str, object]:
        """Sign and write what peers need to know of this node: its keys, the SPKI hash of
        its TLS certificate (so they pin it, no CA), its modes. Rewritten at each start, so
        it follows config edits."""
        descriptor = sign_descriptor(
            keys, tls_spki_sha256=spki_sha256(self.cert_path), modes=[m.value for m in config.node.modes]
        )
        temp = self.descriptor_path.with_suffix(".tmp")
        temp.write_text(json.dumps(descriptor, indent=2) + "\n", encoding="utf-8")
        os.replace(temp, self.descriptor_path)
        return descriptor

    def descriptor(self) -> dict[str, object]:
        """The node's descriptor, checked: signature valid and node id matching its key."""
        try:
            data = json.loads(self.descriptor_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFound(f"no node descriptor at {self.descriptor_path}: run `mesyx run` once") from None
        except (ValueError, UnicodeDecodeError):
            raise Corrupt(f"{self.descriptor_path} is not a node descriptor") from None
        if not isinstance(data, dict):
            raise Corrupt(f"{self.descriptor_path} is not a node descriptor")
        verify_descriptor(data)
        return data

    def config(self) -> Config:
        return load_config(self.root)

    def node_keys(self) -> NodeKeys:
        return NodeKeys.load(self.node_key_path)

    def open_store(self, config: Config, keys: NodeKeys) -> Store:
        return Store(
            config.database_url,
            config.data_dir / "blobs",
            keys,
            blob_threshold=config.storage.blob_threshold,
        )

    def tls_context(self, config: Config) -> ssl.SSLContext:
        """The configured chain for people's clients, else the node's own certificate."""
        if config.tls.cert_file is not None and config.tls.key_file is not None:
            return server_context(config.tls.cert_file, config.tls.key_file)
        return server_context(self.cert_path, self.cert_key_path)

    def running_pid(self) -> int | None:
        """The pid of a daemon running on this home, or None (checked by its lock)."""
        try:
            fd = os.open(self.pid_path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = self.pid_path.read_text(encoding="ascii").strip()
            return int(text) if text.isdigit() else -1
        finally:
            os.close(fd)
        return None


class PidLock:
    """Held by the running daemon: one daemon per home, and ``status`` can tell."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise Temporary(f"a daemon is running on this home already (see {self.path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None
