"""The one closed error hierarchy of Mesyx.

Every failure a user or peer can cause is one of these types; each edge renders them
(SMTP 4xx/5xx, IMAP NO/BAD, HTTP problem details, one CLI line). Anything else escaping
to an edge is a bug: the edge logs it with an id and shows only that id.
"""

from __future__ import annotations

__all__ = [
    "MesyxError",
    "NotFound",
    "Exists",
    "PermissionDenied",
    "Temporary",
    "LimitExceeded",
    "Corrupt",
    "CryptoError",
    "ConfigError",
    "UsageError",
    "ScriptError",
]


class MesyxError(Exception):
    """Base of every expected failure; its message is one line meant for a person."""

    #: A short stable name used in logs and machine-readable output.
    kind = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(MesyxError):
    """The thing asked for (account, envelope, keyset, file) does not exist."""

    kind = "not-found"


class Exists(MesyxError):
    """The thing to create exists already."""

    kind = "exists"


class PermissionDenied(MesyxError):
    """The caller or this node may not do this (wrong passphrase, no key material, role)."""

    kind = "permission"


class Temporary(MesyxError):
    """Try again later: a transient condition (database busy, shutting down)."""

    kind = "temporary"


class LimitExceeded(MesyxError):
    """A size, count or rate limit was hit."""

    kind = "limit"


class Corrupt(MesyxError):
    """Stored or received data does not parse or violates an invariant."""

    kind = "corrupt"


class CryptoError(MesyxError):
    """A signature, MAC or key did not verify: the data was tampered with or the key is wrong."""

    kind = "crypto"


class ConfigError(MesyxError):
    """The configuration file is unreadable or has a bad key, type or value."""

    kind = "config"


class UsageError(MesyxError):
    """The command or request is malformed (bad argument, bad address)."""

    kind = "usage"


class ScriptError(UsageError):
    """A SIEVE script does not parse or validate (RFC 5228 section 2.10.6: "compile time").

    ``line`` and ``column`` (1-based) point at the offending token, as ManageSieve and
    ``mesyx sieve check`` show them; the message itself does not repeat them.
    """

    kind = "script"

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(message)
        self.line = line
        self.column = column

    def located(self) -> str:
        """``line L, column C: message``, the one-line form the edges print."""
        return f"line {self.line}, column {self.column}: {self.message}"
