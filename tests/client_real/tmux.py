"""A terminal program driven through tmux, as a person would drive it (keys in, screen out).

The program runs in a detached tmux session on a socket of the test's own (so no other
tmux server is touched) with an empty tmux config; ``tmux capture-pane -p`` reads the
screen, which is polled, since a terminal program needs a moment to connect and draw.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.helpers.daemon import wait_for

#: How long a screen may take to show what a test waits for (bounds a hang only).
SCREEN_TIMEOUT = 10.0


class Tmux:
    """One detached tmux session on a private socket, running one command."""

    def __init__(self, binary: str, socket: Path, command: list[str], env: dict[str, str]) -> None:
        self.binary = binary
        self.socket = socket
        self.session = "t"
        self._tmux("new-session", "-d", "-s", self.session, "-x", "160", "-y", "40",
                   *(f"-e{k}={v}" for k, v in env.items()), "--", *command)

    def _tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.binary, "-S", str(self.socket), "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=10, check=check)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.session).stdout

    def wait_screen(self, *texts: str) -> str:
        """Poll the screen until every one of ``texts`` is on it; return the screen."""
        last = [""]

        def shown() -> bool:
            last[0] = self.screen()
            return all(text in last[0] for text in texts)

        try:
            wait_for(shown, timeout=SCREEN_TIMEOUT, interval=0.2, what=f"{texts} on the screen")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen was:\n{last[0]}") from None
        return last[0]

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", self.session, *keys)

    def alive(self) -> bool:
        return self._tmux("has-session", "-t", self.session, check=False).returncode == 0

    def wait_exit(self) -> None:
        """Wait until the program has exited (its session is gone); on a timeout, fail
        with the screen it was left on (a question it still waits for, say)."""
        last = [""]

        def gone() -> bool:
            if not self.alive():
                return True
            last[0] = self._tmux("capture-pane", "-p", "-t", self.session, check=False).stdout
            return False

        try:
            wait_for(gone, timeout=SCREEN_TIMEOUT, interval=0.2, what="the program to exit")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen was:\n{last[0]}") from None

    def kill(self) -> None:
        self._tmux("kill-server", check=False)
