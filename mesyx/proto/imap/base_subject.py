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
_BLOB: Final = r"\[[^\[\]]*\][ \t]*"
#: subj-leader = (*subj-blob subj-refwd) / WSP; subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
_LEADER: Final = re.compile(rf"(?:{_BLOB})*(?:re|fwd?)[ \t]*(?:{_BLOB})?:|[ \t]", re.I)
_LEADING_BLOB: Final = re.compile(_BLOB)


def normalize_subject(subject: str) -> str:
    """Step 1's white space rule: tabs and line breaks and runs of them become one space."""
    return _WSP_RUNS.sub(" ", subject)


def _strip_trailers(text: str) -> tuple[str, bool]:
    """Step 2: remove all trailing ``(fwd)`` and white space; says whether a ``(fwd)`` went."""
    fwd = False
    while True:
        text = text.rstrip(" \t")  # subj-trailer = "(fwd)" / WSP
        if text[-5:].lower() != "(fwd)":
            return text, fwd
        text = text[:-5]
        fwd = True


def _strip_leaders(text: str) -> tuple[str, bool]:
    """Steps 3 to 5: leaders (``Re:``, ``[list] Fwd:``, white space) and leading blobs, repeatedly."""
    reply = False
    while True:
        m = _LEADER.match(text)
        if m is not None:
            reply = reply or m.group(0).endswith(":")
            text = text[m.end() :]
            continue
        blob = _LEADING_BLOB.match(text)
        # Step 4: drop a leading blob only if something is left of the subject.
        if blob is not None and text[blob.end() :].strip(" \t"):
            text = text[blob.end() :]
            continue
        return text, reply


def base_subject(subject: str) -> tuple[str, bool]:
    """``(base subject, was a reply or forward)`` of a decoded Subject value (RFC 5256 section 2.1)."""
    text = normalize_subject(subject)
    reply = False
    while True:
        text, fwd = _strip_trailers(text)
        text, refwd = _strip_leaders(text)
        reply = reply or fwd or refwd
        # Step 6: "[fwd:" ... "]" around the rest is removed, and the steps start again from 2.
        if len(text) >= 6 and text[:5].lower() == "[fwd:" and text.endswith("]"):
            text = text[5:-1]
            reply = True
            continue
        return text, reply
