"""Keyset policies: which keysets an account needs for which windows of time.

A policy is a small TOML file (shipped ones in ``keysets/``); see ``keysets/weekly.toml``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from mesyx.crypto.keysets import KeysetRole, Window, window_for
from mesyx.errors import ConfigError, NotFound
from mesyx.shipped import shipped_dir

__all__ = ["RolePolicy", "KeysetPolicy", "load_policy"]

_ROLES = {"short_term": KeysetRole.SHORT_TERM, "long_term": KeysetRole.LONG_TERM, "metadata": KeysetRole.METADATA}
_PERIODS = {"week", "month", "year", "always"}


@dataclass(frozen=True)
class RolePolicy:
    role: KeysetRole
    period: str
    ahead: int


@dataclass(frozen=True)
class KeysetPolicy:
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
    """Load a shipped policy by name (``weekly``) or a policy file by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = shipped_dir("keysets") / f"{name_or_path}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise NotFound(f"no keyset policy {name_or_path!r} ({path})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    rules = []
    for key, section in data.items():
        if key not in _ROLES or not isinstance(section, dict):
            raise ConfigError(f"{path}: {key}: unknown section (use short_term, long_term, metadata)")
        period, ahead = section.get("period"), section.get("ahead", 0)
        if period not in _PERIODS:
            raise ConfigError(f"{path}: {key}.period: expected one of {sorted(_PERIODS)}, got {period!r}")
        if not isinstance(ahead, int) or isinstance(ahead, bool) or not 0 <= ahead <= 520:
            raise ConfigError(f"{path}: {key}.ahead: expected an integer from 0 to 520, got {ahead!r}")
        rules.append(RolePolicy(_ROLES[key], str(period), ahead))
    if not any(r.role is KeysetRole.METADATA for r in rules):
        raise ConfigError(f"{path}: a policy needs a [metadata] section")
    if not any(r.role is not KeysetRole.METADATA for r in rules):
        raise ConfigError(f"{path}: a policy needs a [short_term] or [long_term] section")
    return KeysetPolicy(path.stem, tuple(rules))
