"""The base subject of RFC 5256 section 2.1, for SORT SUBJECT and both THREAD algorithms.

The input is the Subject field already RFC 2047-decoded (step 1 asks for the decoded
text). Matching of ``re``/``fw``/``fwd``/``[fwd:`` is case-insensitive; comparing base
subjects is done by the caller (``i;unicode-casemap``-like folding, as Dovecot does).
The second result says whether the subject was a reply or forward, i.e. whether step 2,
3 or 6 removed a ``(fwd)`` trailer, a ``Re:``/``Fwd:`` leader or a ``[fwd: ...]`` wrapper
(RFC 5256 section 4, step 5.B and 5.C of REFERENCES, "subject ... begins with Re:").
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["base_subject", "normalize_subject"]

_WSP_RUNS: Final = re.compile(r"[ \t\r\n]+")
#: subj-blob = "[" *BLOBCHAR "]" *WSP
_BLOB: Final = re.compile(r"\[[^\[\]]*\][ \t]*")
_BLOBS: Final = re.compile(r"(?:\[[^\[\]]*\][ \t]*)*")
#: subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
_REFWD: Final = re.compile(r"(?:re|fwd?)[ \t]*(?:\[[^\[\]]*\][ \t]*)?:", re.I)


def normalize_subject(subject: str) -> str:
    """Step 1's white space rule: tabs and line breaks and runs of them become one space."""
    return _WSP_RUNS.sub(" ", subject)


# The steps work on text[start:end] and move the bounds, so a hostile subject (thousands of
# "(fwd)" or "[x]") costs time linear in its length, not a copy per removal.


def _strip_trailers(text: str, start: int, end: int) -> tuple[int, bool]:
    """Step 2: remove trailing ``(fwd)`` and white space (subj-trailer); says whether a ``(fwd)`` went."""
    fwd = False
    while end > start:
        if text[end - 1] in " \t":
            end -= 1
        elif end - start >= 5 and text[end - 5 : end].lower() == "(fwd)":
            end -= 5
            fwd = True
        else:
            break
    return end, fwd


def _strip_leaders(text: str, start: int, end: int) -> tuple[int, bool]:
    """Steps 3 to 5: leaders (white space, ``*subj-blob subj-refwd``) and leading blobs, repeatedly.

    A subj-refwd cannot begin with "[", so it can only follow the whole run of leading blobs.
    Step 4 drops a leading blob only if a non-empty subject is left, so a subject made of
    blobs alone keeps its last one.
    """
    reply = False
    while True:
        while start < end and text[start] in " \t":
            start += 1
        blobs = _BLOBS.match(text, start, end)  # always matches, possibly empty
        blobs_end = blobs.end() if blobs is not None else start
        refwd = _REFWD.match(text, blobs_end, end)
        if refwd is not None:
            start, reply = refwd.end(), True
        elif blobs_end == start:
            return start, reply
        elif blobs_end < end:
            start = blobs_end
        else:
            last = start
            for blob in _BLOB.finditer(text, start, blobs_end):
                last = blob.start()
            if last == start:
                return start, reply
            start = last


def base_subject(subject: str) -> tuple[str, bool]:
    """``(base subject, was a reply or forward)`` of a decoded Subject value (RFC 5256 section 2.1)."""
    text = normalize_subject(subject)
    start, end = 0, len(text)
    reply = False
    while True:
        end, fwd = _strip_trailers(text, start, end)
        start, refwd = _strip_leaders(text, start, end)
        reply = reply or fwd or refwd
        # Step 6: "[fwd:" ... "]" around the rest is removed, and the steps start again from 2.
        if end - start >= 6 and text[start : start + 5].lower() == "[fwd:" and text[end - 1] == "]":
            start, end, reply = start + 5, end - 1, True
            continue
        return text[start:end], reply
