"""A test-side encoder: client commands back to wire bytes, choosing token forms at random.

Used by the round-trip tests: encode a generated command (each string as an atom, a
quoted string, a synchronizing or a non-synchronizing literal, whichever is possible and
the random source picks), feed it to the reader, and expect the same dataclass back.
This is deliberately independent of the parser: it is written from the RFC grammar.
"""

from __future__ import annotations

import base64
import datetime
import random

from mesyx.proto.imap.commands import (
    Append,
    AppendMessage,
    Authenticate,
    CancelUpdate,
    Catenate,
    CatenateText,
    Command,
    Compress,
    Copy,
    Create,
    Delete,
    Enable,
    Expunge,
    Fetch,
    Id,
    List,
    Login,
    Lsub,
    Move,
    Rename,
    Search,
    SelectCommand,
    Sort,
    Status,
    Store,
    Subscribe,
    Thread,
    Unsubscribe,
)
from mesyx.proto.imap.fetch import FetchAttribute, FetchBinary, FetchBinarySize, FetchBody, FetchItem, Partial, Section
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
)
from mesyx.proto.imap.utf7 import encode_mailbox_name

ATOM_SPECIALS = set(b'(){ %*"\\]')
ATOM_CHARS = {c for c in range(0x21, 0x7F) if c not in ATOM_SPECIALS}
ASTRING_CHARS = ATOM_CHARS | {ord("]")}
LIST_CHARS = ASTRING_CHARS | {ord("%"), ord("*")}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FLAG_KEYS = {
    ("\\Answered", True): "ANSWERED",
    ("\\Deleted", True): "DELETED",
    ("\\Draft", True): "DRAFT",
    ("\\Flagged", True): "FLAGGED",
    ("\\Seen", True): "SEEN",
    ("\\Recent", True): "RECENT",
    ("\\Answered", False): "UNANSWERED",
    ("\\Deleted", False): "UNDELETED",
    ("\\Draft", False): "UNDRAFT",
    ("\\Flagged", False): "UNFLAGGED",
    ("\\Seen", False): "UNSEEN",
    ("\\Recent", False): "OLD",
}


def quote(data: bytes) -> bytes:
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class Wire:
    """Encodes commands; ``rnd`` picks token forms, ``utf8`` mirrors UTF8=ACCEPT."""

    def __init__(self, rnd: random.Random | None = None, *, utf8: bool = False, sync: bool = True) -> None:
        self.rnd = rnd or random.Random(0)
        self.utf8 = utf8
        self.sync = sync  # may synchronizing literals be used

    def pick(self, options: list[str]) -> str:
        return self.rnd.choice(options)

    # -- strings ---------------------------------------------------------------------

    def quotable(self, data: bytes) -> bool:
        if b"\r" in data or b"\n" in data or b"\x00" in data:
            return False
        if data.isascii():
            return True
        if not self.utf8:
            return False
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    def literal(self, data: bytes, binary: bool = False) -> bytes:
        plus = "+" if not self.sync or self.rnd.random() < 0.5 else ""
        return f"{'~' if binary else ''}{{{len(data)}{plus}}}\r\n".encode() + data

    def string(self, data: bytes) -> bytes:
        options = ["literal"]
        if self.quotable(data):
            options += ["quoted", "quoted"]
        return quote(data) if self.pick(options) == "quoted" else self.literal(data)

    def astring(self, data: bytes, chars: set[int] = ASTRING_CHARS) -> bytes:
        if data and all(c in chars for c in data) and self.rnd.random() < 0.6:
            return data
        return self.string(data)

    def text(self, text: str) -> bytes:
        return self.astring(text.encode())

    def mailbox(self, name: str) -> bytes:
        wire = name.encode() if self.utf8 else encode_mailbox_name(name).encode()
        return self.astring(wire)

    def list_mailbox(self, name: str) -> bytes:
        wire = name.encode() if self.utf8 else encode_mailbox_name(name).encode()
        return self.astring(wire, LIST_CHARS)

    # -- small tokens ----------------------------------------------------------------

    def date_time(self, moment: datetime.datetime) -> bytes:
        offset = moment.utcoffset() or datetime.timedelta(0)
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        minutes = abs(minutes)
        day = f"{moment.day:2d}" if self.rnd.random() < 0.5 else f"{moment.day:02d}"
        return (
            f'"{day}-{MONTHS[moment.month - 1]}-{moment.year:04d} {moment.hour:02d}:{moment.minute:02d}:'
            f'{moment.second:02d} {sign}{minutes // 60:02d}{minutes % 60:02d}"'
        ).encode()

    def date(self, day: datetime.date) -> bytes:
        month = MONTHS[day.month - 1]
        if self.rnd.random() < 0.5:
            month = month.upper()
        text = f"{day.day}-{month}-{day.year:04d}".encode()
        return b'"' + text + b'"' if self.rnd.random() < 0.5 else text

    def flags(self, flags: tuple[str, ...], *, parens: bool = True) -> bytes:
        inner = b" ".join(f.encode() for f in flags)
        return b"(" + inner + b")" if parens else inner

    def keyword(self, word: str) -> bytes:
        """A keyword in random case (the parser is case-insensitive)."""
        return "".join(c.lower() if self.rnd.random() < 0.3 else c for c in word).encode()

    # -- search ----------------------------------------------------------------------

    def search_key(self, key: SearchKey) -> bytes:
        kw = self.keyword
        if isinstance(key, SearchAll):
            return kw("ALL")
        if isinstance(key, SearchNew):
            return kw("NEW")
        if isinstance(key, SearchFlag):
            name = FLAG_KEYS.get((key.flag, key.present))
            if name is not None:
                return kw(name)
            return kw("KEYWORD" if key.present else "UNKEYWORD") + b" " + key.flag.encode()
        if isinstance(key, SearchText):
            return kw(key.field) + b" " + self.text(key.value)
        if isinstance(key, SearchHeader):
            return kw("HEADER") + b" " + self.text(key.name) + b" " + self.text(key.value)
        if isinstance(key, SearchDate):
            return kw(key.field) + b" " + self.date(key.date)
        if isinstance(key, SearchSize):
            return kw("LARGER" if key.larger else "SMALLER") + b" " + str(key.size).encode()
        if isinstance(key, SearchSeq):
            return str(key.messages).encode()
        if isinstance(key, SearchUid):
            return kw("UID") + b" " + str(key.uids).encode()
        if isinstance(key, SearchModSeq):
            entry = b""
            if key.entry is not None:
                entry = quote(key.entry[0].encode()) + b" " + kw(key.entry[1].upper()) + b" "
            return kw("MODSEQ") + b" " + entry + str(key.modseq).encode()
        if isinstance(key, SearchNot):
            return kw("NOT") + b" " + self.search_key(key.key)
        if isinstance(key, SearchOr):
            return kw("OR") + b" " + self.search_key(key.left) + b" " + self.search_key(key.right)
        assert isinstance(key, SearchAnd)
        return b"(" + b" ".join(self.search_key(k) for k in key.keys) + b")"

    def criteria(self, key: SearchKey) -> bytes:
        if isinstance(key, SearchAnd) and len(key.keys) > 1 and self.rnd.random() < 0.7:
            return b" ".join(self.search_key(k) for k in key.keys)
        return self.search_key(key)

    def returns(self, returns: SearchReturn | None) -> bytes:
        if returns is None:
            return b""
        opts = []
        for option in sorted(returns.options):
            if option is SearchReturnOption.PARTIAL:
                assert returns.partial is not None
                opts.append(self.keyword("PARTIAL") + f" {returns.partial[0]}:{returns.partial[1]}".encode())
            else:
                opts.append(self.keyword(option.value))
        self.rnd.shuffle(opts)
        return b" " + self.keyword("RETURN") + b" (" + b" ".join(opts) + b")"

    # -- fetch -----------------------------------------------------------------------

    def section(self, section: Section) -> bytes:
        pieces = [str(p).encode() for p in section.part]
        if section.text is not None:
            pieces.append(self.keyword(section.text.value))
        spec = b".".join(pieces)
        if section.fields:
            spec += b" (" + b" ".join(self.text(f) for f in section.fields) + b")"
        return b"[" + spec + b"]"

    @staticmethod
    def partial(partial: Partial | None) -> bytes:
        return b"" if partial is None else f"<{partial.offset}.{partial.count}>".encode()

    def fetch_att(self, att: FetchAttribute) -> bytes:
        if isinstance(att, FetchItem):
            return self.keyword(att.value)
        if isinstance(att, FetchBody):
            name = "BODY.PEEK" if att.peek else "BODY"
            return self.keyword(name) + self.section(att.section) + self.partial(att.partial)
        part = b"[" + ".".join(str(p) for p in att.part).encode() + b"]"
        if isinstance(att, FetchBinary):
            return self.keyword("BINARY.PEEK" if att.peek else "BINARY") + part + self.partial(att.partial)
        assert isinstance(att, FetchBinarySize)
        return self.keyword("BINARY.SIZE") + part

    # -- commands --------------------------------------------------------------------

    def command(self, cmd: Command) -> bytes:
        uid = getattr(cmd, "uid", False)
        head = cmd.tag.encode() + b" " + (self.keyword("UID") + b" " if uid else b"") + self.keyword(cmd.name)
        return head + self.arguments(cmd) + b"\r\n"

    def arguments(self, cmd: Command) -> bytes:
        sp = b" "
        if isinstance(cmd, Id):
            if cmd.params is None:
                return b" NIL"
            items = []
            for key, value in cmd.params:
                encoded = b"NIL" if value is None else self.string(value.encode())
                items.append(self.string(key.encode()) + sp + encoded)
            return b" (" + b" ".join(items) + b")"
        if isinstance(cmd, Enable):
            return b"".join(sp + c.encode() for c in cmd.capabilities)
        if isinstance(cmd, Compress):
            return sp + cmd.mechanism.encode()
        if isinstance(cmd, Authenticate):
            if cmd.initial_response is None:
                return sp + cmd.mechanism.encode()
            ir = base64.b64encode(cmd.initial_response) if cmd.initial_response else b"="
            return sp + cmd.mechanism.encode() + sp + ir
        if isinstance(cmd, Login):
            return sp + self.text(cmd.username) + sp + self.text(cmd.password)
        if isinstance(cmd, SelectCommand):
            params = []
            if cmd.condstore:
                params.append(self.keyword("CONDSTORE"))
            if cmd.qresync is not None:
                q = cmd.qresync
                inner = f"{q.uidvalidity} {q.modseq}".encode()
                if q.known_uids is not None:
                    inner += sp + str(q.known_uids).encode()
                if q.seq_match is not None:
                    inner += f" ({q.seq_match[0]} {q.seq_match[1]})".encode()
                params.append(self.keyword("QRESYNC") + b" (" + inner + b")")
            self.rnd.shuffle(params)
            return sp + self.mailbox(cmd.mailbox) + (b" (" + b" ".join(params) + b")" if params else b"")
        if isinstance(cmd, Create):
            use = b""
            if cmd.special_use or self.rnd.random() < 0.1:
                use = b" (" + self.keyword("USE") + b" (" + " ".join(cmd.special_use).encode() + b"))"
            return sp + self.mailbox(cmd.mailbox) + use
        if isinstance(cmd, Delete | Subscribe | Unsubscribe):
            return sp + self.mailbox(cmd.mailbox)
        if isinstance(cmd, Rename):
            return sp + self.mailbox(cmd.mailbox) + sp + self.mailbox(cmd.new_name)
        if isinstance(cmd, List):
            return self.list_arguments(cmd)
        if isinstance(cmd, Lsub):
            return sp + self.mailbox(cmd.reference) + sp + self.list_mailbox(cmd.pattern)
        if isinstance(cmd, Status):
            return sp + self.mailbox(cmd.mailbox) + b" (" + b" ".join(self.keyword(i.value) for i in cmd.items) + b")"
        if isinstance(cmd, Append):
            return sp + self.mailbox(cmd.mailbox) + b"".join(self.append_message(m) for m in cmd.messages)
        if isinstance(cmd, Expunge):
            return b"" if cmd.uids is None else sp + str(cmd.uids).encode()
        if isinstance(cmd, Search):
            charset = b"" if cmd.charset is None else self.keyword("CHARSET") + sp + cmd.charset.encode() + sp
            return self.returns(cmd.returns) + sp + charset + self.criteria(cmd.criteria)
        if isinstance(cmd, Fetch):
            atts = cmd.attributes
            if len(atts) == 1 and self.rnd.random() < 0.5:
                body = self.fetch_att(atts[0])
            else:
                body = b"(" + b" ".join(self.fetch_att(a) for a in atts) + b")"
            mods = []
            if cmd.modifiers.changed_since is not None:
                mods.append(self.keyword("CHANGEDSINCE") + f" {cmd.modifiers.changed_since}".encode())
            if cmd.modifiers.vanished:
                mods.append(self.keyword("VANISHED"))
            self.rnd.shuffle(mods)
            tail = b" (" + b" ".join(mods) + b")" if mods else b""
            return sp + str(cmd.messages).encode() + sp + body + tail
        if isinstance(cmd, Store):
            mod = b"" if cmd.unchanged_since is None else f" (UNCHANGEDSINCE {cmd.unchanged_since})".encode()
            item = self.keyword(cmd.mode.value + (".SILENT" if cmd.silent else ""))
            parens = not cmd.flags or self.rnd.random() < 0.5
            return sp + str(cmd.messages).encode() + mod + sp + item + sp + self.flags(cmd.flags, parens=parens)
        if isinstance(cmd, Copy | Move):
            return sp + str(cmd.messages).encode() + sp + self.mailbox(cmd.mailbox)
        if isinstance(cmd, Sort):
            crit = b" ".join(
                (self.keyword("REVERSE") + sp if c.reverse else b"") + self.keyword(c.key.value) for c in cmd.criteria
            )
            head = self.returns(cmd.returns) + b" (" + crit + b")"
            return head + sp + cmd.charset.encode() + sp + self.criteria(cmd.search)
        if isinstance(cmd, Thread):
            return sp + cmd.algorithm.encode() + sp + cmd.charset.encode() + sp + self.criteria(cmd.search)
        if isinstance(cmd, CancelUpdate):
            return b"".join(sp + quote(t.encode()) for t in cmd.tags)
        return b""

    def list_arguments(self, cmd: List) -> bytes:
        sp = b" "
        out = b""
        if cmd.extended and (cmd.selection or self.rnd.random() < 0.3):
            out += b" (" + b" ".join(self.keyword(s.value) for s in sorted(cmd.selection)) + b")"
        out += sp + self.mailbox(cmd.reference) + sp
        use_parens = cmd.extended and (len(cmd.patterns) != 1 or self.rnd.random() < 0.5)
        if use_parens:
            out += b"(" + b" ".join(self.list_mailbox(p) for p in cmd.patterns) + b")"
        else:
            out += self.list_mailbox(cmd.patterns[0])
        r = cmd.returns
        wants_return = r.subscribed or r.children or r.special_use or r.status is not None
        if cmd.extended and (wants_return or not use_parens):
            opts = []
            if r.subscribed:
                opts.append(self.keyword("SUBSCRIBED"))
            if r.children:
                opts.append(self.keyword("CHILDREN"))
            if r.special_use:
                opts.append(self.keyword("SPECIAL-USE"))
            if r.status is not None:
                opts.append(self.keyword("STATUS") + b" (" + b" ".join(s.value.encode() for s in r.status) + b")")
            out += b" " + self.keyword("RETURN") + b" (" + b" ".join(opts) + b")"
        return out

    def append_message(self, message: AppendMessage) -> bytes:
        out = b" "
        if message.flags or self.rnd.random() < 0.2:
            out += self.flags(message.flags) + b" "
        if message.date is not None:
            out += self.date_time(message.date) + b" "
        if isinstance(message.data, Catenate):
            parts = []
            for part in message.data.parts:
                if isinstance(part, CatenateText):
                    parts.append(self.keyword("TEXT") + b" " + self.literal(part.data))
                else:
                    parts.append(self.keyword("URL") + b" " + self.text(part.url))
            return out + self.keyword("CATENATE") + b" (" + b" ".join(parts) + b")"
        return out + self.literal(message.data, message.binary)
