"""Keyset policies: which keysets an account needs for which windows of time.

A policy is a small TOML file (shipped ones in ``keysets/``); see ``keysets/weekly.toml``.
It has a ``[metadata]`` section and at least one of ``[short_term]`` and ``[long_term]``;
each sets ``period`` (week, month, year or always) and ``ahead`` (0 to 520 windows created
ahead of the current one). It is read by :mod:`mesyx.tomlspec`, so every problem is one
:class:`~mesyx.errors.ConfigError` line naming the file, the key and the reason::

    keysets/custom.toml: short_term.period: expected one of "week", "month", "year", "always", got "fortnight"
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from mesyx.crypto.keysets import KeysetRole, Window, window_for
from mesyx.errors import ConfigError, NotFound
from mesyx.shipped import shipped_dir
from mesyx.tomlspec import Rule, build, decode_utf8, key, parse_toml, refuse_unknown, reporter, required

__all__ = ["RolePolicy", "KeysetPolicy", "load_policy", "parse_policy"]

#: Section name → the role of the keysets it describes, in the order sections are named.
_ROLES: Final = {
    "short_term": KeysetRole.SHORT_TERM,
    "long_term": KeysetRole.LONG_TERM,
    "metadata": KeysetRole.METADATA,
}


@dataclass(frozen=True)
class _Section:
    """One section of a policy file, as :func:`mesyx.tomlspec.build` checks it."""

    period: Literal["week", "month", "year", "always"] = required()
    ahead: int = key(0, Rule(lo=0, hi=520))


@dataclass(frozen=True)
class RolePolicy:
    """The windows one role needs: keysets per ``period``, ``ahead`` of them in advance."""

    role: KeysetRole
    period: str
    ahead: int


@dataclass(frozen=True)
class KeysetPolicy:
    """A named policy: one :class:`RolePolicy` per section, in the order of the file."""

    name: str
    roles: tuple[RolePolicy, ...]

    def windows(self, now: float) -> list[tuple[KeysetRole, Window]]:
        """The windows that should have a keyset at ``now``: the current one and ``ahead`` more."""
        wanted: list[tuple[KeysetRole, Window]] = []
        for rule in self.roles:
            window = window_for(rule.period, now)
            wanted.append((rule.role, window))
            for _ in range(rule.ahead if rule.period != "always" else 0):
                window = window_for(rule.period, window.end)
                wanted.append((rule.role, window))
        return wanted


def load_policy(name_or_path: str) -> KeysetPolicy:
    """Load a shipped policy by name (``weekly``) or a policy file by path.

    Raises :class:`NotFound` if there is no such policy and :class:`ConfigError` (one
    line naming the file, the key and the reason) if it is unreadable or invalid.
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = shipped_dir("keysets") / f"{name_or_path}.toml"
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(f"no keyset policy {name_or_path!r} ({path})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_policy(decode_utf8(data, str(path)), name=path.stem, where=str(path))


def parse_policy(text: str, *, name: str, where: str) -> KeysetPolicy:
    """Parse and validate the text of a policy file; ``where`` is used in error messages."""
    fail = reporter(where)
    data = parse_toml(text, where)
    refuse_unknown(data, _ROLES, fail)
    roles: list[RolePolicy] = []
    for section, raw in data.items():
        values = build(section, _Section, raw, fail)
        roles.append(RolePolicy(_ROLES[section], values.period, values.ahead))
    if "metadata" not in data:
        fail("metadata", "missing; a policy needs a [metadata] section")
    if "short_term" not in data and "long_term" not in data:
        fail("short_term", "missing; a policy needs a [short_term] or [long_term] section")
    return KeysetPolicy(name, tuple(roles))
