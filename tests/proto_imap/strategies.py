"""Hypothesis strategies for every client command the parser knows."""

from __future__ import annotations

import datetime

from hypothesis import strategies as st

from mesyx.proto.imap import commands as c
from mesyx.proto.imap.fetch import (
    FetchAttribute,
    FetchBinary,
    FetchBinarySize,
    FetchBody,
    FetchItem,
    FetchModifiers,
    Partial,
    Section,
    SectionText,
)
from mesyx.proto.imap.search import (
    SearchAll,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchKey,
    SearchModSeq,
    SearchNew,
    SearchNot,
    SearchOr,
    SearchReturn,
    SearchReturnOption,
    SearchSeq,
    SearchSize,
    SearchText,
    SearchUid,
    SortCriterion,
    SortKey,
)
from mesyx.proto.imap.sequence import SAVED, MessageSet, SeqRange, SequenceSet

MAX32 = 2**32 - 1
MAX63 = 2**63 - 1
ATOM_ALPHABET = "".join(chr(x) for x in range(0x21, 0x7F) if chr(x) not in '(){ %*"\\]')
TAG_ALPHABET = ATOM_ALPHABET.replace("+", "") + "]"
SYSTEM = ["\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"]

nz32 = st.integers(1, MAX32)
num64 = st.integers(0, MAX63)
tags = st.text(TAG_ALPHABET, min_size=1, max_size=8)
atoms = st.text(ATOM_ALPHABET, min_size=1, max_size=10)
upper_atoms = atoms.map(str.upper)
# Text that can be sent at all: no NUL (a literal cannot hold one), no lone surrogates.
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)
ascii_texts = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
mailboxes = st.text(st.characters(blacklist_categories=("Cs",)), max_size=16).filter(
    lambda n: n.upper() != "INBOX" or n == "INBOX"
) | st.just("INBOX")
patterns = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(["*", "%", "Lists/%"])
keywords = atoms.filter(lambda a: not a.startswith("\\"))
flags = st.sampled_from(SYSTEM) | keywords
flag_tuples = st.lists(flags, max_size=4).map(tuple)
binary_data = st.binary(max_size=40)
text_data = st.binary(max_size=40).map(lambda b: b.replace(b"\x00", b""))


@st.composite
def date_times(draw: st.DrawFn) -> datetime.datetime:
    naive = draw(st.datetimes(datetime.datetime(1000, 1, 1), datetime.datetime(9999, 12, 31)))
    minutes = draw(st.integers(-(23 * 60 + 59), 23 * 60 + 59))
    zone = datetime.timezone(datetime.timedelta(minutes=minutes))
    return naive.replace(microsecond=0, tzinfo=zone)


dates = st.dates(datetime.date(1000, 1, 1), datetime.date(9999, 12, 31))
seq_numbers = st.none() | nz32
seq_ranges = st.one_of(
    nz32.map(lambda n: SeqRange(n, n)),
    st.just(SeqRange(None, None)),
    st.builds(SeqRange, seq_numbers, seq_numbers),
)
sequence_sets = st.lists(seq_ranges, min_size=1, max_size=4).map(lambda r: SequenceSet(tuple(r)))
star_free_sets = st.lists(
    st.builds(SeqRange, nz32, nz32) | nz32.map(lambda n: SeqRange(n, n)), min_size=1, max_size=4
).map(lambda r: SequenceSet(tuple(r)))
message_sets: st.SearchStrategy[MessageSet] = sequence_sets | st.just(SAVED)

leaf_keys: st.SearchStrategy[SearchKey] = st.one_of(
    st.just(SearchAll()),
    st.just(SearchNew()),
    st.builds(SearchFlag, st.sampled_from([*SYSTEM, "\\Recent"]), st.booleans()),
    st.builds(SearchFlag, keywords, st.booleans()),
    st.builds(SearchText, st.sampled_from(["BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"]), texts),
    st.builds(SearchHeader, texts, texts),
    st.builds(
        SearchDate, st.sampled_from(["BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"]), dates
    ),
    st.builds(SearchSize, st.booleans(), num64),
    st.builds(SearchSeq, message_sets),
    st.builds(SearchUid, message_sets),
    st.builds(
        SearchModSeq,
        num64,
        st.none()
        | st.tuples(flags.map(lambda f: "/flags/" + f), st.sampled_from(["priv", "shared", "all"])),
    ),
)
search_keys: st.SearchStrategy[SearchKey] = st.recursive(
    leaf_keys,
    lambda inner: st.one_of(
        st.builds(SearchNot, inner),
        st.builds(SearchOr, inner, inner),
        st.lists(inner, min_size=1, max_size=3).map(lambda k: SearchAnd(tuple(k))),
    ),
    max_leaves=8,
)


@st.composite
def search_returns(draw: st.DrawFn) -> SearchReturn | None:
    if draw(st.booleans()):
        return None
    options = frozenset(draw(st.sets(st.sampled_from(list(SearchReturnOption)), max_size=4)))
    partial = None
    if SearchReturnOption.PARTIAL in options:
        partial = (draw(nz32), draw(nz32))
    return SearchReturn(options, partial)


@st.composite
def sections(draw: st.DrawFn) -> Section:
    part = tuple(draw(st.lists(nz32, max_size=3)))
    choices: list[SectionText | None] = [None, *[t for t in SectionText if t is not SectionText.MIME or part]]
    if not part:
        choices.remove(None)
        choices.append(None)  # BODY[] is fine without a part too
    text = draw(st.sampled_from(choices))
    fields: tuple[str, ...] = ()
    if text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT):
        fields = tuple(draw(st.lists(texts.filter(bool), min_size=1, max_size=3)))
    return Section(part, text, fields)


partials = st.none() | st.builds(Partial, st.integers(0, MAX32), nz32)
part_numbers = st.lists(nz32, max_size=3).map(tuple)
fetch_attributes: st.SearchStrategy[FetchAttribute] = st.one_of(
    st.sampled_from(list(FetchItem)),
    st.builds(FetchBody, sections(), partials, st.booleans()),
    st.builds(FetchBinary, part_numbers, partials, st.booleans()),
    st.builds(FetchBinarySize, part_numbers),
)


@st.composite
def fetches(draw: st.DrawFn) -> c.Command:
    uid = draw(st.booleans())
    changed = draw(st.none() | num64)
    vanished = uid and changed is not None and draw(st.booleans())
    return c.Fetch(
        tag=draw(tags),
        messages=draw(message_sets),
        attributes=tuple(draw(st.lists(fetch_attributes, min_size=1, max_size=4))),
        modifiers=FetchModifiers(changed, vanished),
        uid=uid,
    )


@st.composite
def lists(draw: st.DrawFn) -> c.Command:
    extended = draw(st.booleans())
    if not extended:
        return c.List(tag=draw(tags), reference=draw(mailboxes), patterns=(draw(patterns),))
    selection = set(draw(st.sets(st.sampled_from(list(c.ListSelect)))))
    if c.ListSelect.RECURSIVEMATCH in selection and not selection & {c.ListSelect.SUBSCRIBED, c.ListSelect.SPECIAL_USE}:
        selection.add(c.ListSelect.SUBSCRIBED)
    status = draw(st.none() | st.lists(st.sampled_from(list(c.StatusItem)), min_size=1, max_size=3).map(tuple))
    returns = c.ListReturn(draw(st.booleans()), draw(st.booleans()), draw(st.booleans()), status)
    return c.List(
        tag=draw(tags),
        reference=draw(mailboxes),
        patterns=tuple(draw(st.lists(patterns, min_size=1, max_size=3))),
        selection=frozenset(selection),
        returns=returns,
        extended=True,
    )


@st.composite
def qresyncs(draw: st.DrawFn) -> c.QResync:
    return c.QResync(
        draw(nz32),
        draw(num64),
        draw(st.none() | star_free_sets),
        draw(st.none() | st.tuples(star_free_sets, star_free_sets)),
    )


catenate_parts = st.one_of(st.builds(c.CatenateUrl, texts), st.builds(c.CatenateText, text_data))


@st.composite
def append_messages(draw: st.DrawFn) -> c.AppendMessage:
    flag_list = draw(flag_tuples)
    date = draw(st.none() | date_times())
    kind = draw(st.sampled_from(["literal", "literal8", "catenate"]))
    if kind == "catenate":
        parts = tuple(draw(st.lists(catenate_parts, min_size=1, max_size=3)))
        return c.AppendMessage(c.Catenate(parts), flag_list, date)
    if kind == "literal8":
        return c.AppendMessage(draw(binary_data), flag_list, date, True)
    return c.AppendMessage(draw(text_data), flag_list, date)


sort_criteria = st.lists(
    st.builds(SortCriterion, st.sampled_from(list(SortKey)), st.booleans()), min_size=1, max_size=3
).map(tuple)


def _simple(cls: type[c.Command]) -> st.SearchStrategy[c.Command]:
    return st.builds(cls, tag=tags)


commands: st.SearchStrategy[c.Command] = st.one_of(
    *(
        _simple(k)
        for k in (
            c.Capability, c.Noop, c.Logout, c.StartTls, c.Namespace, c.Idle, c.Check, c.Close, c.Unselect
        )
    ),
    st.builds(
        c.Id,
        tag=tags,
        params=st.none() | st.lists(st.tuples(texts, st.none() | texts), max_size=3).map(tuple),
    ),
    st.builds(c.Enable, tag=tags, capabilities=st.lists(upper_atoms, min_size=1, max_size=3).map(tuple)),
    st.builds(c.Compress, tag=tags, mechanism=upper_atoms),
    st.builds(c.Authenticate, tag=tags, mechanism=upper_atoms, initial_response=st.none() | binary_data),
    st.builds(c.Login, tag=tags, username=texts, password=texts),
    st.builds(
        c.Select, tag=tags, mailbox=mailboxes, condstore=st.booleans(), qresync=st.none() | qresyncs()
    ),
    st.builds(
        c.Examine, tag=tags, mailbox=mailboxes, condstore=st.booleans(), qresync=st.none() | qresyncs()
    ),
    st.builds(
        c.Create,
        tag=tags,
        mailbox=mailboxes,
        special_use=st.lists(
            st.sampled_from(["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"])
            | atoms.map(lambda a: "\\X" + a),
            max_size=2,
        ).map(tuple),
    ),
    st.builds(c.Delete, tag=tags, mailbox=mailboxes),
    st.builds(c.Rename, tag=tags, mailbox=mailboxes, new_name=mailboxes),
    st.builds(c.Subscribe, tag=tags, mailbox=mailboxes),
    st.builds(c.Unsubscribe, tag=tags, mailbox=mailboxes),
    lists(),
    st.builds(c.Lsub, tag=tags, reference=mailboxes, pattern=patterns),
    st.builds(
        c.Status,
        tag=tags,
        mailbox=mailboxes,
        items=st.lists(st.sampled_from(list(c.StatusItem)), min_size=1, max_size=4).map(tuple),
    ),
    st.builds(
        c.Append, tag=tags, mailbox=mailboxes, messages=st.lists(append_messages(), min_size=1, max_size=3).map(tuple)
    ),
    st.builds(c.Expunge, tag=tags, uids=st.none() | message_sets),
    st.builds(
        c.Search,
        tag=tags,
        criteria=search_keys,
        charset=st.sampled_from([None, "UTF-8"]),
        returns=search_returns(),
        uid=st.booleans(),
    ),
    fetches(),
    st.builds(
        c.Store,
        tag=tags,
        messages=message_sets,
        mode=st.sampled_from(list(c.StoreMode)),
        flags=flag_tuples,
        silent=st.booleans(),
        unchanged_since=st.none() | num64,
        uid=st.booleans(),
    ),
    st.builds(c.Copy, tag=tags, messages=message_sets, mailbox=mailboxes, uid=st.booleans()),
    st.builds(c.Move, tag=tags, messages=message_sets, mailbox=mailboxes, uid=st.booleans()),
    st.builds(
        c.Sort,
        tag=tags,
        criteria=sort_criteria,
        charset=st.just("UTF-8"),
        search=search_keys,
        returns=search_returns(),
        uid=st.booleans(),
    ),
    st.builds(
        c.Thread,
        tag=tags,
        algorithm=st.sampled_from(["REFERENCES", "ORDEREDSUBJECT"]) | upper_atoms,
        charset=st.just("UTF-8"),
        search=search_keys,
        uid=st.booleans(),
    ),
    st.builds(c.CancelUpdate, tag=tags, tags=st.lists(ascii_texts, min_size=1, max_size=3).map(tuple)),
)
