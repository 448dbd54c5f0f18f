"""Reading passphrases: from ``--passphrase-file`` or, on a terminal, a hidden prompt."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mesyx.errors import PermissionDenied, UsageError

__all__ = ["passphrase_option", "read_passphrase"]

passphrase_option = click.option(
    "--passphrase-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the passphrase from the first line of this file (no line ending).",
)


def read_passphrase(path: Path | None, *, prompt: str = "Passphrase", confirm: bool = False) -> str:
    """The first line of ``path`` without its line ending; else ask on a terminal."""
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"passphrase file {path} does not exist") from None
        except PermissionError:
            raise PermissionDenied(f"cannot read passphrase file {path}") from None
        except UnicodeDecodeError:
            raise UsageError(f"passphrase file {path} is not UTF-8 text") from None
        line = text.splitlines()[0] if text else ""
        if not line:
            raise UsageError(f"passphrase file {path} is empty")
        return line
    if not sys.stdin.isatty():
        raise UsageError("no passphrase: pass --passphrase-file FILE (standard input is not a terminal)")
    value: str = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm, err=True)
    if not value:
        raise UsageError("the passphrase is empty")
    return value
