"""Bounds on what a user's script may cost (issue 5, safety; RFC 5228 section 10).

Scripts come from users and run on every inbound message, so each is bounded twice: at
compile time (size, nesting, number of nodes) so that a script that could never run
cheaply is refused when it is uploaded, and at run time (steps, actions, redirects,
body bytes, variable sizes) so that one message can never keep the pipeline busy.
Pigeonhole has the same kinds of limits (``sieve_max_script_size``, ``sieve_max_actions``,
``sieve_max_redirects``, ``sieve_variables_max_variable_size``); the defaults here are
at least as generous as its defaults, so scripts written for Dovecot run unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits", "DEFAULT_LIMITS"]


@dataclass(frozen=True)
class Limits:
    #: Bytes of script text (Pigeonhole: sieve_max_script_size, 1 MiB).
    script_bytes: int = 1 << 20
    #: Depth of nested blocks and tests together.
    nesting: int = 32
    #: Commands, tests and arguments in the tree.
    nodes: int = 50_000
    #: Commands and tests evaluated for one message (loops do not exist, but
    #: ``foreverypart`` and long scripts do).
    steps: int = 100_000
    #: Actions one run may take (Pigeonhole: sieve_max_actions, 32).
    actions: int = 32
    #: Redirects one run may take (Pigeonhole: sieve_max_redirects, 4).
    redirects: int = 4
    #: Bytes of body the ``body`` test looks at, per message.
    body_bytes: int = 1 << 20
    #: Characters of one variable's value (RFC 5229 section 6: at least 4000;
    #: Pigeonhole: 4 KiB).
    variable_size: int = 4096
    #: Distinct variables of one run (Pigeonhole: 255 per scope).
    variables: int = 255
    #: Characters of a regular expression (RE2 is linear in the input, not in the pattern).
    regex_size: int = 4096


DEFAULT_LIMITS = Limits()
