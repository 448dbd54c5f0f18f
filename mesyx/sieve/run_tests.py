"""SIEVE tests at run time: each takes the run and its :class:`~mesyx.sieve.ast.Call`, says true or false.

RFC 5228 section 5 and the extensions' tests: ``address``, ``envelope``, ``header``,
``exists``, ``size``, ``allof``/``anyof``/``not``/``true``/``false``; ``string``
(RFC 5229 section 5), ``hasflag`` (RFC 5232 section 4), ``body`` (RFC 5173),
``date``/``currentdate`` (RFC 5260, in :mod:`mesyx.sieve.run_date`), ``mailboxexists``
(RFC 5490 section 3.1), ``spamtest`` (RFC 5235). ``:index``/``:last`` (RFC 5260 section 6)
pick one occurrence of a header field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from mesyx.errors import UsageError
from mesyx.sieve.ast import Call
from mesyx.sieve.message import MailAddress, split_address
from mesyx.sieve.run_date import currentdate_test, date_test
from mesyx.sieve.run_state import Run, pick, split_flags

__all__ = ["TESTS", "run_test"]

_NUMBER: Final = re.compile(r"[-+]?[0-9]+(?:\.[0-9]+)?")

TestFn = Callable[[Run, Call], bool]


def run_test(run: Run, call: Call) -> bool:
    run.step()
    return TESTS[call.name](run, call)


def _header(run: Run, call: Call) -> bool:
    names, keys = call.positional
    header = run.message.header
    expanded = run.expand_all(names)
    if len(expanded) == 1 and "index" not in call.tags:
        return run.test(call, header(expanded[0]), keys)
    values: list[str] = []
    for name in expanded:
        values.extend(pick(call, header(name)))
    return run.test(call, values, keys)


def _part(part: str, address: MailAddress, separator: str) -> str | None:
    """The address part asked for (RFC 5228 section 2.7.4, RFC 5233 section 4); None if it has none."""
    if part == "all":
        return address.all
    if not address.valid:
        return None  # an invalid address has no parts (RFC 5228 section 2.7.4)
    if part == "localpart":
        return address.localpart
    if part == "domain":
        return address.domain
    user, sep, detail = address.localpart.partition(separator)
    if part == "user":
        return user
    return detail if sep else None


def _address_values(run: Run, call: Call, fields: list[tuple[MailAddress, ...]]) -> list[str]:
    part = str(call.tags.get("address-part", "all"))
    separator = run.environment.separator
    out = []
    for field in fields:
        for address in field:
            value = _part(part, address, separator)
            if value is not None:
                out.append(value)
    return out


def _address(run: Run, call: Call) -> bool:
    names, keys = call.positional
    fields: list[tuple[MailAddress, ...]] = []
    for name in run.expand_all(names):
        fields.extend(pick(call, run.message.field_addresses(name)))
    return run.test(call, _address_values(run, call, fields), keys)


def _envelope(run: Run, call: Call) -> bool:
    parts, keys = call.positional
    found: list[MailAddress] = []
    envelope = run.envelope
    for part in run.expand_all(parts):
        name = part.lower()
        if name == "from":
            found.append(split_address(envelope.mail_from))
        elif name == "to":
            found.append(split_address(envelope.rcpt_to))
        elif name == "auth":
            if envelope.auth:
                found.append(split_address(envelope.auth))
        else:
            raise UsageError(f'envelope part "{part}" is not supported')
    # The null reverse-path "<>" is the invalid address "": only :all sees it, as "" (RFC 5228 section 5.4).
    return run.test(call, _address_values(run, call, [tuple(found)]), keys)


def _exists(run: Run, call: Call) -> bool:
    return all(run.message.has(name) for name in run.expand_all(call.positional[0]))


def _size(run: Run, call: Call) -> bool:
    limit = call.positional[0]
    assert isinstance(limit, int)
    if call.tags.get("size") == "over":
        return run.message.size > limit
    return run.message.size < limit


def _allof(run: Run, call: Call) -> bool:
    return all(run_test(run, test) for test in call.tests)


def _anyof(run: Run, call: Call) -> bool:
    return any(run_test(run, test) for test in call.tests)


def _not(run: Run, call: Call) -> bool:
    return not run_test(run, call.tests[0])


def _string(run: Run, call: Call) -> bool:
    sources, keys = call.positional
    values = run.expand_all(sources)
    if call.tags.get("match") == "count":
        # Only non-empty strings count (RFC 5229 section 5).
        values = tuple(v for v in values if v)
    return run.test(call, values, keys)


def _hasflag(run: Run, call: Call) -> bool:
    if len(call.positional) == 2:
        names, keys = call.positional
        values: list[str] = []
        for name in run.expand_all(names):
            values.extend(split_flags([run.variables.get(name.lower(), "")]))
    else:
        keys = call.positional[0]
        values = list(run.flags)
    # The keys are flag lists too: "a b" is the flags a and b (as Pigeonhole reads them).
    return run.test(call, values, keys, _flag_keys)


def _flag_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(flag for key in keys for flag in key.split()) or keys


def _body(run: Run, call: Call) -> bool:
    transform = call.tags.get("transform", "text")
    limit = run.limits.body_bytes
    if transform == "raw":
        values: tuple[str, ...] = (run.message.body_raw(limit),)
    elif transform == "content":
        types = call.tags.get("content", ())
        values = run.message.body_parts(run.expand_all(types if isinstance(types, (tuple, str)) else ()), limit)
    else:
        values = run.message.body_parts(None, limit)
    # The body test sets no match variables (Pigeonhole leaves them as they were).
    return run.test(call, values, call.positional[0], capture=False)


def _mailboxexists(run: Run, call: Call) -> bool:
    return all(run.environment.mailbox_exists(name) for name in run.expand_all(call.positional[0]))


def _spam_score(run: Run) -> float | None:
    """The score in the spam header (see :mod:`mesyx.sieve.environment`), or None if untested."""
    for value in run.message.header(run.environment.spam_header):
        m = _NUMBER.search(value)
        if m is not None:
            return float(m.group())
    return None


def _spamtest(run: Run, call: Call) -> bool:
    """RFC 5235 section 3.2 (1 clean .. 10 spam, 0 untested) and 3.3 (``:percent``, 0 .. 100).

    Scaled and truncated as Pigeonhole does (``sieve_spamtest_status_type = score``): 7.5 of
    10 is 7 (``1 + 0.75 * 9`` truncated) or 75 %.
    """
    score = _spam_score(run)
    top = run.environment.spam_max
    if score is None:
        value = "0"
    else:
        ratio = min(max(score, 0.0), top) / top if top > 0 else 1.0
        value = str(int(ratio * 100)) if call.tags.get("percent") else str(int(1 + ratio * 9))
    return run.test(call, (value,), call.positional[0])


TESTS: dict[str, TestFn] = {
    "address": _address,
    "allof": _allof,
    "anyof": _anyof,
    "body": _body,
    "currentdate": currentdate_test,
    "date": date_test,
    "envelope": _envelope,
    "exists": _exists,
    "false": lambda run, call: False,
    "hasflag": _hasflag,
    "header": _header,
    "mailboxexists": _mailboxexists,
    "not": _not,
    "size": _size,
    "spamtest": _spamtest,
    "string": _string,
    "true": lambda run, call: True,
}
