"""Run real Mesyx nodes in tests: node homes, ``mesyx run`` subprocesses, SMTP, byte scans.

Everything here goes through the installed console script (``.venv/bin/mesyx``, found
next to ``sys.executable``), exactly as a person would type it, so a test exercises the
CLI, the config loader and the daemon as shipped. Nothing here is a pytest fixture;
``tests/integration/conftest.py`` wraps :class:`NodeFactory` into fixtures, and other
test packages can do the same.

Quick tour::

    from tests.helpers.daemon import NodeFactory, make_message

    factory = NodeFactory(tmp_path)                    # stops every node on close()
    node = factory.create("h", account="alice@mesyx.test",
                          config={"smtp": {"max_recipients": 5}})
    node.start()                                       # waits until SMTP listens
    result = node.send("bob@ext.test", ["alice@mesyx.test"],
                       make_message(subject="hi", body="hello"))
    assert result.ok, result                           # every reply code, never raises
    rows = node.cli_json("message", "list", "--passphrase-file", node.passphrase_file, "--json")
    node.stop()                                        # SIGTERM, waits, returns the exit code
    factory.close()

Conventions:

- **Ports.** :func:`pick_port_base` returns a base N such that N + every offset of
  DESIGN.md (SMTP +25, REST +80, IMAP +143, ...) can be bound on 127.0.0.1 right now, and
  none of whose ports is a port of another base handed out by this process, so no two
  nodes of one test run share a port even once more listeners exist.
- **Readiness** is checked *without* connecting (``/proc/net/tcp`` LISTEN state), so a
  probe never uses up a token of the connection rate limit a test is measuring; a
  connect probe is the fallback where ``/proc`` is missing. Timeouts are generous (20 s
  to start, 20 s to stop) and only bound a hang: no test asserts a speed.
- **Logs.** The daemon's stderr (its structured log) goes to ``<log_dir>/<name>.log``
  and its stdout to ``<log_dir>/<name>.stdout``, both *outside* the node's home, so a byte
  scan of the home does not see the log, and a test can scan the log on its own.
- **Passphrases** are written to ``<home>.pw`` next to the home (also outside it) and
  passed with ``--passphrase-file``.
- **CLI calls** return a :class:`CliResult` with raw bytes (``message show`` writes the
  message's original bytes) and decoded text; they never raise on a non-zero exit unless
  ``check=True``. :func:`assert_one_line_error` checks DESIGN.md's error contract.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mesyx.config import PORT_OFFSETS

__all__ = [
    "CLI_TIMEOUT",
    "MESYX",
    "READY_TIMEOUT",
    "SMTP_TIMEOUT",
    "STOP_TIMEOUT",
    "CliResult",
    "DaemonFailed",
    "Node",
    "NodeFactory",
    "SmtpResult",
    "assert_one_line_error",
    "create_node",
    "dump_toml",
    "is_listening",
    "make_message",
    "merge_config",
    "pick_port_base",
    "run_cli",
    "scan_bytes",
    "smtp_transaction",
    "table_counts",
    "wait_for",
]

#: The installed console script of the venv running the tests.
MESYX: Path = Path(sys.executable).parent / "mesyx"
#: How long a daemon may take to listen, and to exit after SIGTERM (bounds a hang only).
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0
#: Socket timeout of SMTP clients, and of each CLI call.
SMTP_TIMEOUT = 20.0
CLI_TIMEOUT = 120.0
#: The passphrase :func:`create_node` gives accounts unless told otherwise.
DEFAULT_PASSPHRASE = "correct horse battery staple"

_T = TypeVar("_T")


# --------------------------------------------------------------------------- waiting


def wait_for(
    predicate: Callable[[], _T], timeout: float = 10.0, interval: float = 0.05, what: str = "condition"
) -> _T:
    """Call ``predicate`` until it returns something truthy; return that, or fail.

    Raises AssertionError naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------- ports


def _proc_listening_ports() -> set[int] | None:
    """Ports in TCP LISTEN state on this host (any address), or None without /proc."""
    ports: set[int] = set()
    found = False
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        found = True
        for line in lines:
            parts = line.split()
            if len(parts) > 3 and parts[3] == "0A":  # 0A = TCP_LISTEN
                ports.add(int(parts[1].rsplit(":", 1)[1], 16))
    return ports if found else None


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on ``port``, checked without opening a connection."""
    ports = _proc_listening_ports()
    if ports is not None:
        return port in ports
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:  # pragma: no cover
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def _can_bind(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_handed_out: set[int] = set()


def pick_port_base(low: int = 10000) -> int:
    """A ``--port-base`` N whose every listener port (N + DESIGN.md's offsets) is free.

    Chosen at random below the Linux ephemeral range (32768+), so client sockets never
    take a node's port; no listener port of it equals one of a base handed out earlier in
    this process, whether or not that node runs now.
    """
    rng = random.SystemRandom()
    offsets = list(PORT_OFFSETS.values())
    high = 32768 - max(offsets)
    clashes = {a - b for a in offsets for b in offsets}  # includes 0
    for _ in range(2000):
        base = rng.randrange(low, high)
        if any(base - other in clashes for other in _handed_out):
            continue
        if all(_can_bind(base + offset) for offset in PORT_OFFSETS.values()):
            _handed_out.add(base)
            return base
    raise RuntimeError("no free port base found")


# --------------------------------------------------------------------------- CLI


@dataclass(frozen=True)
class CliResult:
    """One ``mesyx`` call: exit code, raw stdout/stderr bytes, and decoded helpers."""

    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace")

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    def json(self) -> Any:
        """stdout alone, parsed as JSON (DESIGN.md: ``--json`` goes to stdout only)."""
        return json.loads(self.stdout)

    def check(self) -> CliResult:
        if self.returncode != 0:
            raise AssertionError(f"{self} failed")
        return self

    def __str__(self) -> str:
        return (f"`mesyx {' '.join(self.args)}` exit {self.returncode}\n"
                f"--- stdout\n{self.out[:4000]}\n--- stderr\n{self.err[:4000]}")


def _env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "MESYX_HOME"}
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("LC_ALL", "C.UTF-8")
    if extra:
        env.update(extra)
    return env


def run_cli(
    *args: object,
    home: Path | None = None,
    input: bytes | str | None = None,
    timeout: float = CLI_TIMEOUT,
    check: bool = False,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> CliResult:
    """Run ``mesyx [--home HOME] ARGS...`` and capture everything; stdin is ``input``
    (empty, never a terminal, when None: a command that would prompt fails instead)."""
    argv = [*(["--home", str(home)] if home is not None else []), *(str(a) for a in args)]
    data = input.encode("utf-8") if isinstance(input, str) else (input or b"")
    proc = subprocess.run(
        [str(MESYX), *argv], input=data, capture_output=True, timeout=timeout, cwd=cwd, env=_env(env)
    )
    result = CliResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
    return result.check() if check else result


def assert_one_line_error(result: CliResult, *fragments: str) -> str:
    """DESIGN.md's error contract: non-zero exit, exactly one line on stderr, no traceback.

    Each of ``fragments`` must occur in that line (case-insensitively); returns the line.
    """
    assert result.returncode != 0, f"expected a failure: {result}"
    assert "Traceback" not in result.err, f"traceback on stderr: {result}"
    lines = result.err_lines
    assert len(lines) == 1, f"expected exactly one line on stderr, got {len(lines)}: {result}"
    for fragment in fragments:
        assert fragment.lower() in lines[0].lower(), f"{fragment!r} not in the error line: {result}"
    return lines[0]


# --------------------------------------------------------------------------- config


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(value, Path):
        return json.dumps(str(value))
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def dump_toml(data: Mapping[str, Mapping[str, object]]) -> str:
    """A small TOML writer for config files: ``{section: {key: value}}``; a table value
    of a key becomes a ``[section.key]`` sub-table (e.g. ``log.subsystems``)."""
    out: list[str] = []
    for section, keys in data.items():
        out.append(f"[{section}]")
        subtables = {k: v for k, v in keys.items() if isinstance(v, Mapping)}
        out += [f"{k} = {_toml_value(v)}" for k, v in keys.items() if k not in subtables]
        out.append("")
        for name, table in subtables.items():
            assert isinstance(table, Mapping)
            out.append(f"[{section}.{name}]")
            out += [f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in table.items()]
            out.append("")
    return "\n".join(out)


def merge_config(path: Path, overrides: Mapping[str, Mapping[str, object]]) -> None:
    """Merge ``{section: {key: value}}`` into the TOML file at ``path`` (rewritten whole,
    comments dropped); a value of None removes the key."""
    data: dict[str, dict[str, object]] = tomllib.loads(path.read_text(encoding="utf-8"))
    for section, keys in overrides.items():
        table = data.setdefault(section, {})
        for key, value in keys.items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
    path.write_text(dump_toml(data), encoding="utf-8")


# --------------------------------------------------------------------------- SMTP


@dataclass
class SmtpResult:
    """Every reply of one SMTP transaction, as ``(code, text)``; never raises on a refusal.

    ``data`` is None when DATA was not attempted (no recipient accepted, or no message
    given); ``ok`` means the message was accepted (``250`` after DATA).
    """

    banner: tuple[int, str] = (0, "")
    ehlo: tuple[int, str] = (0, "")
    mail: tuple[int, str] = (0, "")
    rcpts: list[tuple[int, str]] = field(default_factory=list)
    data: tuple[int, str] | None = None
    tls: bool = False

    @property
    def ok(self) -> bool:
        return self.data is not None and self.data[0] == 250

    @property
    def rcpt_codes(self) -> list[int]:
        return [code for code, _ in self.rcpts]


def _reply(pair: tuple[int, bytes]) -> tuple[int, str]:
    return pair[0], pair[1].decode("utf-8", "replace")


def unverified_tls_context() -> ssl.SSLContext:
    """A client context that accepts the node's self-signed certificate."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def smtp_transaction(
    port: int,
    mail_from: str,
    rcpt_to: Sequence[str],
    message: bytes | None = None,
    *,
    host: str = "127.0.0.1",
    ehlo: str = "client.test",
    mail_options: Sequence[str] = (),
    starttls: bool = False,
    timeout: float = SMTP_TIMEOUT,
) -> SmtpResult:
    """One SMTP transaction with smtplib (EHLO, [STARTTLS], MAIL, RCPT..., DATA), recording
    every reply code. DATA is sent only if some recipient got 250 and ``message`` is given.

    ``message`` goes through smtplib's ``data()``: line endings become CRLF and lines
    starting with "." are dot-stuffed, as any MTA does.
    """
    result = SmtpResult()
    with smtplib.SMTP(timeout=timeout) as client:
        result.banner = _reply(client.connect(host, port))
        result.ehlo = _reply(client.ehlo(ehlo))
        if starttls:
            code, text = _reply(client.starttls(context=unverified_tls_context()))
            if code != 220:
                raise AssertionError(f"STARTTLS refused: {code} {text}")
            result.tls = True
            result.ehlo = _reply(client.ehlo(ehlo))
        result.mail = _reply(client.mail(mail_from, list(mail_options)))
        if result.mail[0] != 250:
            return result
        for rcpt in rcpt_to:
            result.rcpts.append(_reply(client.rcpt(rcpt)))
        if message is not None and 250 in result.rcpt_codes:
            result.data = _reply(client.data(message))
        with contextlib.suppress(smtplib.SMTPException, OSError):
            client.quit()
    return result


def make_message(
    *,
    subject: str = "test message",
    body: str = "hello\n",
    mail_from: str = "sender@ext.test",
    to: str = "alice@mesyx.test",
    headers: Iterable[tuple[str, str]] = (),
    message_id: str | None = None,
) -> bytes:
    """A small RFC 5322 message with CRLF line endings, UTF-8 allowed anywhere (8-bit)."""
    mid = message_id or f"<{random.SystemRandom().getrandbits(64):x}@ext.test>"
    lines = [
        f"From: {mail_from}",
        f"To: {to}",
        f"Subject: {subject}",
        "Date: Mon, 23 Nov 2026 10:00:00 +0000",
        f"Message-ID: {mid}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
        *(f"{name}: {value}" for name, value in headers),
        "",
    ]
    text = "\r\n".join(lines) + "\r\n" + body.replace("\r\n", "\n").replace("\n", "\r\n")
    if not text.endswith("\r\n"):
        text += "\r\n"
    return text.encode("utf-8")


# --------------------------------------------------------------------------- byte scans


def scan_bytes(root: Path, needles: Iterable[str | bytes]) -> dict[str, list[Path]]:
    """Read every regular file under ``root`` (hidden ones, SQLite ``-wal``/``-shm`` and
    blob files included; symlinks not followed) as bytes and report which needles occur
    where. A str needle is looked for as UTF-8 and lower-cased; ``{}`` means clean."""
    wanted: dict[str, list[bytes]] = {}
    for needle in needles:
        if isinstance(needle, bytes):
            wanted[needle.decode("utf-8", "replace")] = [needle]
        else:
            variants = {needle.encode("utf-8"), needle.lower().encode("utf-8")}
            wanted[needle] = sorted(variants)
    found: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        data = path.read_bytes()
        for name, patterns in wanted.items():
            if any(p in data for p in patterns):
                found.setdefault(name, []).append(path)
    return found


# --------------------------------------------------------------------------- store counts


def table_counts(home: Path) -> dict[str, int]:
    """Rows in every table of a node's SQLite store, plus ``blob_files``: the files under
    ``data/blobs``. Read in this process (read-only), so it costs no CLI start-up; use it
    to show that a refused request stored nothing at all. ``Node.counts()`` is the CLI's
    view (``status --json``), which counts only accounts, envelopes and operations."""
    db = home / "data" / "mesyx.sqlite3"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=20)
    try:
        names = [row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        counts = {name: int(con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]) for name in names}
    finally:
        con.close()
    blobs = home / "data" / "blobs"
    counts["blob_files"] = sum(1 for p in blobs.rglob("*") if p.is_file()) if blobs.exists() else 0
    return counts


# --------------------------------------------------------------------------- nodes


class DaemonFailed(AssertionError):
    """The daemon exited or did not get ready; the message holds the tail of its log."""


@dataclass
class Node:
    """One node home, and its ``mesyx run`` subprocess once :meth:`start` is called."""

    home: Path
    port_base: int
    log_dir: Path
    name: str
    passphrase_file: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    _log_handles: list[Any] = field(default_factory=list, repr=False)

    # -- paths and config --------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.home / "mesyx.toml"

    @property
    def log_path(self) -> Path:
        """The daemon's stderr (its log), outside the home."""
        return self.log_dir / f"{self.name}.log"

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / f"{self.name}.stdout"

    def config(self) -> Any:
        """The node's parsed :class:`mesyx.config.Config`."""
        from mesyx.config import load_config

        return load_config(self.home)

    @property
    def smtp_port(self) -> int:
        return int(self.config().ports.smtp)

    def configure(self, overrides: Mapping[str, Mapping[str, object]]) -> None:
        """Merge ``{section: {key: value}}`` into mesyx.toml (restart to apply)."""
        merge_config(self.config_path, overrides)

    # -- CLI ---------------------------------------------------------------------------

    def cli(self, *args: object, **kwargs: Any) -> CliResult:
        """``mesyx --home HOME ARGS...`` (see :func:`run_cli`)."""
        return run_cli(*args, home=self.home, **kwargs)

    def cli_json(self, *args: object) -> Any:
        """Run a ``--json`` command (add ``--json`` yourself), check it, parse stdout."""
        return self.cli(*args, check=True).json()

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.cli_json("status", "--json")
        return result

    def counts(self) -> dict[str, int]:
        """Store counts from ``status --json`` (accounts, envelopes, operations)."""
        store = self.status()["store"]
        assert "error" not in store, store
        return dict(store)

    def table_counts(self) -> dict[str, int]:
        """Rows of every store table, read in-process (see :func:`table_counts`)."""
        return table_counts(self.home)

    def add_account(self, address: str, passphrase: str = DEFAULT_PASSPHRASE) -> Path:
        """``mesyx account add ADDRESS``; returns its passphrase file (outside the home)."""
        pw = self.home.parent / f"{self.home.name}.{address.replace('@', '_at_')}.pw"
        pw.write_text(passphrase + "\n", encoding="utf-8")
        self.cli("account", "add", address, "--passphrase-file", pw, check=True)
        return pw

    # -- the daemon --------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(
        self, *, wait: bool = True, timeout: float = READY_TIMEOUT, debug: bool = False, cwd: Path | None = None
    ) -> Node:
        """``mesyx --home HOME run`` in the background; by default wait until it listens.

        With ``cwd``, the daemon starts in that directory and HOME is given relative to
        it (``mesyx --home H run``, as a person would type it).
        """
        assert not self.running, f"{self.name} runs already"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        err = self.log_path.open("ab")
        out = self.stdout_path.open("ab")
        self._log_handles += [err, out]
        home = os.path.relpath(self.home, cwd) if cwd is not None else str(self.home)
        argv = [str(MESYX), "--home", home, *(["--debug"] if debug else []), "run"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=_env(), cwd=cwd)
        if wait:
            self.wait_ready(timeout)
        return self

    def ready_ports(self) -> list[int]:
        """The ports the daemon is expected to listen on (SMTP when accept is enabled)."""
        config = self.config()
        return [int(config.ports.smtp)] if "accept" in config.node.modes else []

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until every port of :meth:`ready_ports` listens (or, with none, until the
        log shows the ``started`` event); raise DaemonFailed if the process exits first."""
        ports = self.ready_ports()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise DaemonFailed(f"{self.name}: daemon exited ({self.returncode}) before it was ready\n"
                                   f"{self.log_tail()}")
            if ports:
                if all(is_listening(p) for p in ports):
                    return
            elif " started " in self.log_text() or '"started"' in self.log_text():
                return
            if time.monotonic() >= deadline:
                raise DaemonFailed(f"{self.name}: not listening on {ports} after {timeout:g} s\n{self.log_tail()}")
            time.sleep(0.05)

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM and wait; returns the exit code (None if it never ran). A daemon that
        does not exit within ``timeout`` is killed and DaemonFailed raised."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise DaemonFailed(f"{self.name}: did not stop within {timeout:g} s of SIGTERM\n"
                                   f"{self.log_tail()}") from None
        self._close_logs()
        return self.proc.returncode

    def kill(self) -> int | None:
        """``kill -9`` and reap: for crash tests (nothing gets a chance to clean up)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT)
        self._close_logs()
        return self.proc.returncode

    def wait_exit(self, timeout: float = READY_TIMEOUT) -> int:
        """Wait for the daemon to exit on its own (e.g. a refused start)."""
        assert self.proc is not None
        code = self.proc.wait(timeout)
        self._close_logs()
        return code

    def _close_logs(self) -> None:
        for handle in self._log_handles:
            handle.close()
        self._log_handles.clear()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    # -- SMTP --------------------------------------------------------------------------

    def send(self, mail_from: str, rcpt_to: Sequence[str] | str, message: bytes | None = None,
             **kwargs: Any) -> SmtpResult:
        """:func:`smtp_transaction` against this node's SMTP port."""
        rcpts = [rcpt_to] if isinstance(rcpt_to, str) else list(rcpt_to)
        return smtp_transaction(self.smtp_port, mail_from, rcpts, message, **kwargs)

    @contextlib.contextmanager
    def smtp(self, timeout: float = SMTP_TIMEOUT) -> Iterator[smtplib.SMTP]:
        """A connected smtplib client (no EHLO sent yet), closed afterwards."""
        client = smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=timeout)
        try:
            yield client
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                client.quit()
            client.close()


def create_node(
    home: Path,
    *,
    log_dir: Path | None = None,
    modes: Sequence[str] | None = None,
    port_base: int | None = None,
    account: str | None = None,
    passphrase: str = DEFAULT_PASSPHRASE,
    config: Mapping[str, Mapping[str, object]] | None = None,
    name: str | None = None,
) -> Node:
    """``mesyx --home HOME init [--modes M,..] --port-base N [--account A --passphrase-file F]``
    and then merge ``config`` into its mesyx.toml. ``modes`` None means init's default
    (all four). The daemon is not started."""
    base = pick_port_base() if port_base is None else port_base
    args: list[object] = ["init", "--port-base", base]
    if modes is not None:
        args += ["--modes", ",".join(modes)]
    pw: Path | None = None
    if account is not None:
        pw = home.parent / f"{home.name}.pw"
        pw.write_text(passphrase + "\n", encoding="utf-8")
        args += ["--account", account, "--passphrase-file", pw]
    run_cli(*args, home=home, check=True)
    node = Node(home=home, port_base=base, log_dir=log_dir or home.parent, name=name or home.name,
                passphrase_file=pw)
    if config:
        node.configure(config)
    return node


class NodeFactory:
    """Creates nodes under one directory and stops every one of them on :meth:`close`.

    Homes are ``<root>/<name>``; logs and passphrase files sit beside them in ``root``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nodes: list[Node] = []

    def create(self, name: str, **kwargs: Any) -> Node:
        """:func:`create_node` for ``<root>/<name>`` (same keyword arguments)."""
        node = create_node(self.root / name, log_dir=self.root, name=name, **kwargs)
        self.nodes.append(node)
        return node

    def close(self) -> None:
        """Stop every node still running (SIGTERM, then SIGKILL if it hangs)."""
        errors: list[str] = []
        for node in self.nodes:
            try:
                node.stop()
            except DaemonFailed as exc:
                errors.append(str(exc))
        if errors:
            raise DaemonFailed("\n".join(errors))
