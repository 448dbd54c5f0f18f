"""The envelope (DESIGN.md, The envelope): round trip, tamper of every part, wrong keys,
truncation, Padmé and what the cleartext header may say.

Every tamper must end in ``CryptoError`` or ``Corrupt`` (both ``MesyxError``), never in a
plaintext, whatever byte was changed.
"""

from __future__ import annotations

import struct
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from nacl.public import PrivateKey

from mesyx.crypto.envelope import (
    ENVELOPE_ID_BYTES,
    ENVELOPE_VERSION,
    HEADER,
    STREAM_CHUNK,
    STREAM_THRESHOLD,
    Envelope,
    InnerRecord,
    KeyWrap,
    open_message,
    open_wrap,
    padme,
    seal_message,
    wrap_content_key,
)
from mesyx.crypto.keysets import ALWAYS, KeysetRole, KeysetSecret
from mesyx.errors import Corrupt, CryptoError, MesyxError

ACCOUNT = bytes(range(16))
OTHER_ACCOUNT = bytes(range(16, 32))
KEYSET = KeysetSecret.generate(ACCOUNT, KeysetRole.SHORT_TERM, ALWAYS)
OTHER_KEYSET = KeysetSecret.generate(ACCOUNT, KeysetRole.SHORT_TERM, ALWAYS)
STREAM_ABYTES = 17
STREAM_STEP = STREAM_CHUNK + STREAM_ABYTES
DAY = 86400

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(max_size=40)
inner_records = st.builds(
    InnerRecord,
    received_at=st.floats(min_value=0, max_value=2**34, allow_nan=False, allow_infinity=False),
    source=st.sampled_from(["smtp", "irc", "xmpp", "append", "submission"]),
    mail_from=text,
    rcpt_to=st.lists(text, max_size=4).map(tuple),
    mailboxes=st.lists(text, max_size=3).map(tuple),
    keywords=st.lists(text, max_size=3).map(tuple),
    chat=st.dictionaries(text, text, max_size=3),
)
raws = st.binary(max_size=4096)
SIMPLE = InnerRecord(1_790_000_000.25, "smtp", "bob@example.org", ("alice@mesyx.test",))


def seal_and_wrap(inner: InnerRecord, raw: bytes, keyset: KeysetSecret = KEYSET) -> tuple[Envelope, KeyWrap, bytes]:
    envelope, key = seal_message(ACCOUNT, inner, raw)
    wrap = wrap_content_key(envelope.envelope_id, key, keyset.public.keyset_id, keyset.public.public_key)
    return envelope, wrap, key


def open_all(envelope: Envelope, wrap: KeyWrap, private: PrivateKey = KEYSET.private_key) -> tuple[InnerRecord, bytes]:
    """The whole read path: check the id the wrap names, open the wrap, open the body."""
    envelope.check(wrap.envelope_id)
    return open_message(envelope, open_wrap(wrap, private))


def flip(data: bytes, position: int, mask: int) -> bytes:
    changed = bytearray(data)
    changed[position] ^= mask
    return bytes(changed)


def inner_length(inner: InnerRecord, raw: bytes) -> int:
    return 4 + len(inner.encode()) + len(raw)


# -- round trip ------------------------------------------------------------------------


@FAST
@given(inner=inner_records, raw=raws)
def test_round_trip(inner: InnerRecord, raw: bytes) -> None:
    envelope, wrap, key = seal_and_wrap(inner, raw)
    assert open_all(envelope, wrap) == (inner, raw)
    assert open_message(envelope, key) == (inner, raw)
    assert open_wrap(wrap, KEYSET.private_key) == key
    assert envelope.body[0] == 0  # one AEAD box below the stream threshold


@FAST
@given(inner=inner_records, raw=raws)
def test_header_fields(inner: InnerRecord, raw: bytes) -> None:
    envelope, _, _ = seal_and_wrap(inner, raw)
    assert len(envelope.header) == HEADER.size == 1 + 16 + 4 + 8
    assert envelope.version == ENVELOPE_VERSION
    assert envelope.account_id == ACCOUNT
    assert envelope.day == int(inner.received_at) // DAY
    assert envelope.padded_size == padme(inner_length(inner, raw) + 1)
    # body = scheme 1 | nonce 24 | ciphertext of the padded record | tag 16
    assert len(envelope.body) == 1 + 24 + envelope.padded_size + 16
    assert len(envelope.envelope_id) == ENVELOPE_ID_BYTES
    envelope.check(envelope.envelope_id)


def test_header_holds_nothing_but_account_day_and_size() -> None:
    inner = InnerRecord(
        1_790_000_000.0,
        "smtp",
        "sender-secret@example.org",
        ("recipient-secret@mesyx.test",),
        ("mailbox-secret",),
        ("keyword-secret",),
        {"network": "network-secret"},
    )
    raw = b"From: sender-secret@example.org\r\nSubject: subject-secret\r\n\r\nbody-secret\r\n"
    envelope, wrap, _ = seal_and_wrap(inner, raw)
    assert envelope.header == struct.pack(
        ">B16sIQ", ENVELOPE_VERSION, ACCOUNT, 1_790_000_000 // DAY, envelope.padded_size
    )
    everything = envelope.header + envelope.body + wrap.sealed
    for secret in (
        b"sender-secret",
        b"recipient-secret",
        b"subject-secret",
        b"body-secret",
        b"mailbox-secret",
        b"keyword-secret",
        b"network-secret",
        b"Subject",
        b"smtp",
    ):
        assert secret not in everything
    assert KEYSET.public.keyset_id not in envelope.header + envelope.body


def test_same_message_twice_gives_different_envelopes() -> None:
    first, _, key1 = seal_and_wrap(SIMPLE, b"hello")
    second, _, key2 = seal_and_wrap(SIMPLE, b"hello")
    assert key1 != key2
    assert first.envelope_id != second.envelope_id
    assert first.header == second.header


def test_explicit_content_key_is_used() -> None:
    key = bytes(range(32))
    envelope, returned = seal_message(ACCOUNT, SIMPLE, b"x", content_key=key)
    assert returned == key
    assert open_message(envelope, key) == (SIMPLE, b"x")


def test_seal_refuses_a_bad_account_id() -> None:
    with pytest.raises(ValueError):
        seal_message(b"short", SIMPLE, b"x")


# -- large bodies: secretstream ----------------------------------------------------------


def raw_for_inner_length(target: int) -> bytes:
    """A raw message that makes the inner record exactly ``target`` bytes long."""
    return b"x" * (target - 4 - len(SIMPLE.encode()))


@pytest.fixture(scope="module")
def big() -> tuple[Envelope, KeyWrap, bytes, bytes]:
    raw = bytes(range(256)) * 4096 + b"!"  # 1 MiB + 1
    envelope, wrap, key = seal_and_wrap(SIMPLE, raw)
    return envelope, wrap, key, raw


@pytest.mark.parametrize("size", [STREAM_THRESHOLD + 1, 3 * STREAM_THRESHOLD, 3 * STREAM_THRESHOLD + 12345])
def test_round_trip_large(size: int) -> None:
    raw = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    envelope, wrap, _ = seal_and_wrap(SIMPLE, raw)
    assert envelope.body[0] == 1  # secretstream
    chunks = -(-envelope.padded_size // STREAM_CHUNK)
    assert len(envelope.body) == 1 + 24 + envelope.padded_size + chunks * STREAM_ABYTES
    assert open_all(envelope, wrap) == (SIMPLE, raw)


def test_stream_threshold_boundary() -> None:
    # An inner record of 2**20 - 1 bytes pads to exactly the threshold: one AEAD box.
    at = raw_for_inner_length(STREAM_THRESHOLD - 1)
    envelope, wrap, _ = seal_and_wrap(SIMPLE, at)
    assert envelope.padded_size == STREAM_THRESHOLD
    assert envelope.body[0] == 0
    assert open_all(envelope, wrap) == (SIMPLE, at)
    # One byte more and it is a stream, whose padded length is a whole number of chunks.
    above = raw_for_inner_length(STREAM_THRESHOLD)
    envelope, wrap, _ = seal_and_wrap(SIMPLE, above)
    assert envelope.padded_size > STREAM_THRESHOLD
    assert envelope.body[0] == 1
    assert open_all(envelope, wrap) == (SIMPLE, above)


def test_stream_padded_to_exact_chunk_multiple() -> None:
    # padme(2**21) == 2**21: the last chunk is full and must still carry the final tag.
    raw = raw_for_inner_length(2 * STREAM_THRESHOLD - 1)
    envelope, wrap, _ = seal_and_wrap(SIMPLE, raw)
    assert envelope.padded_size == 2 * STREAM_THRESHOLD
    assert (len(envelope.body) - 25) % STREAM_STEP == 0
    assert open_all(envelope, wrap) == (SIMPLE, raw)


def test_stream_truncated_at_every_chunk_boundary_fails(big: tuple[Envelope, KeyWrap, bytes, bytes]) -> None:
    envelope, _, key, _ = big
    chunks = (len(envelope.body) - 25 + STREAM_STEP - 1) // STREAM_STEP
    assert chunks > 2
    for kept in range(chunks):
        cut = Envelope(envelope.header, envelope.body[: 25 + kept * STREAM_STEP])
        with pytest.raises((CryptoError, Corrupt)):
            open_message(cut, key)


def test_stream_chunks_reordered_dropped_or_appended_fail(big: tuple[Envelope, KeyWrap, bytes, bytes]) -> None:
    envelope, _, key, _ = big
    head, body = envelope.body[:25], envelope.body[25:]
    chunks = [body[i : i + STREAM_STEP] for i in range(0, len(body), STREAM_STEP)]
    variants = [
        chunks[1:],  # first chunk dropped
        chunks[:1] + chunks[2:],  # a middle chunk dropped
        [chunks[1], chunks[0], *chunks[2:]],  # two chunks swapped
        chunks + [chunks[-1]],  # the final chunk repeated
        chunks + [chunks[0]],  # a chunk after the final one
        chunks[:-1] + [chunks[-1][:-1]],  # the final chunk cut short
    ]
    for variant in variants:
        with pytest.raises((CryptoError, Corrupt)):
            open_message(Envelope(envelope.header, head + b"".join(variant)), key)


@FEW
@given(data=st.data())
def test_stream_body_any_byte_flipped_fails(data: st.DataObject, big: tuple[Envelope, KeyWrap, bytes, bytes]) -> None:
    envelope, _, key, _ = big
    position = data.draw(st.integers(0, len(envelope.body) - 1))
    mask = data.draw(st.integers(1, 255))
    tampered = Envelope(envelope.header, flip(envelope.body, position, mask))
    with pytest.raises((CryptoError, Corrupt)):
        open_message(tampered, key)


@FEW
@given(position=st.integers(0, HEADER.size - 1), mask=st.integers(1, 255))
def test_stream_header_any_byte_flipped_fails(
    position: int, mask: int, big: tuple[Envelope, KeyWrap, bytes, bytes]
) -> None:
    envelope, _, key, _ = big
    with pytest.raises((CryptoError, Corrupt)):
        open_message(Envelope(flip(envelope.header, position, mask), envelope.body), key)


# -- tamper of every part -----------------------------------------------------------------


@FAST
@given(inner=inner_records, raw=raws, position=st.integers(0, HEADER.size - 1), mask=st.integers(1, 255))
def test_header_byte_flipped_fails(inner: InnerRecord, raw: bytes, position: int, mask: int) -> None:
    envelope, wrap, key = seal_and_wrap(inner, raw)
    tampered = Envelope(flip(envelope.header, position, mask), envelope.body)
    with pytest.raises(CryptoError):
        tampered.check(envelope.envelope_id)
    with pytest.raises((CryptoError, Corrupt)):
        open_message(tampered, key)  # even with the right key and no id check
    with pytest.raises((CryptoError, Corrupt)):
        open_all(tampered, wrap)


@FAST
@given(inner=inner_records, raw=raws, data=st.data())
def test_body_byte_flipped_fails(inner: InnerRecord, raw: bytes, data: st.DataObject) -> None:
    envelope, wrap, key = seal_and_wrap(inner, raw)
    position = data.draw(st.integers(0, len(envelope.body) - 1))
    mask = data.draw(st.integers(1, 255))
    tampered = Envelope(envelope.header, flip(envelope.body, position, mask))
    with pytest.raises(CryptoError):
        tampered.check(envelope.envelope_id)
    with pytest.raises((CryptoError, Corrupt)):
        open_message(tampered, key)


@FAST
@given(inner=inner_records, raw=raws, data=st.data())
def test_body_truncated_or_extended_fails(inner: InnerRecord, raw: bytes, data: st.DataObject) -> None:
    envelope, _, key = seal_and_wrap(inner, raw)
    cut = data.draw(st.integers(0, len(envelope.body) - 1))
    with pytest.raises((CryptoError, Corrupt)):
        open_message(Envelope(envelope.header, envelope.body[:cut]), key)
    extra = data.draw(st.binary(min_size=1, max_size=64))
    with pytest.raises((CryptoError, Corrupt)):
        open_message(Envelope(envelope.header, envelope.body + extra), key)


@FAST
@given(body=st.binary(max_size=300), scheme=st.sampled_from([b"", b"\x00", b"\x01", b"\x02", b"\xff"]))
def test_arbitrary_body_never_opens(body: bytes, scheme: bytes) -> None:
    envelope, _, key = seal_and_wrap(SIMPLE, b"hello")
    with pytest.raises((CryptoError, Corrupt)):
        open_message(Envelope(envelope.header, scheme + body), key)


@FAST
@given(inner=inner_records, raw=raws, data=st.data())
def test_wrap_sealed_byte_flipped_fails(inner: InnerRecord, raw: bytes, data: st.DataObject) -> None:
    envelope, wrap, _ = seal_and_wrap(inner, raw)
    position = data.draw(st.integers(0, len(wrap.sealed) - 1))
    mask = data.draw(st.integers(1, 255))
    tampered = KeyWrap(wrap.envelope_id, wrap.keyset_id, flip(wrap.sealed, position, mask))
    with pytest.raises(CryptoError):
        open_wrap(tampered, KEYSET.private_key)


@FAST
@given(data=st.data())
def test_wrap_sealed_truncated_or_extended_fails(data: st.DataObject) -> None:
    envelope, wrap, _ = seal_and_wrap(SIMPLE, b"hello")
    cut = data.draw(st.integers(0, len(wrap.sealed) - 1))
    with pytest.raises(CryptoError):
        open_wrap(KeyWrap(wrap.envelope_id, wrap.keyset_id, wrap.sealed[:cut]), KEYSET.private_key)
    extra = data.draw(st.binary(min_size=1, max_size=40))
    with pytest.raises(CryptoError):
        open_wrap(KeyWrap(wrap.envelope_id, wrap.keyset_id, wrap.sealed + extra), KEYSET.private_key)


@FAST
@given(position=st.integers(0, ENVELOPE_ID_BYTES - 1), mask=st.integers(1, 255))
def test_wrap_envelope_id_changed_fails(position: int, mask: int) -> None:
    envelope, wrap, _ = seal_and_wrap(SIMPLE, b"hello")
    tampered = KeyWrap(flip(wrap.envelope_id, position, mask), wrap.keyset_id, wrap.sealed)
    with pytest.raises(CryptoError):
        open_wrap(tampered, KEYSET.private_key)
    with pytest.raises(CryptoError):
        open_all(envelope, tampered)


@FAST
@given(position=st.integers(0, 15), mask=st.integers(1, 255))
def test_wrap_keyset_id_changed_fails(position: int, mask: int) -> None:
    envelope, wrap, _ = seal_and_wrap(SIMPLE, b"hello")
    tampered = KeyWrap(wrap.envelope_id, flip(wrap.keyset_id, position, mask), wrap.sealed)
    # With the key of the keyset it names (as a reader looks it up) and even with the
    # key of the keyset it was really sealed to: a relabelled wrap is refused.
    with pytest.raises(CryptoError):
        open_wrap(tampered, OTHER_KEYSET.private_key)
    with pytest.raises(CryptoError):
        open_wrap(tampered, KEYSET.private_key)


def test_wrap_with_bad_keyset_id_length_is_refused() -> None:
    with pytest.raises(ValueError):
        wrap_content_key(bytes(32), bytes(32), b"short", KEYSET.public.public_key)


# -- wrong keys, wrong ids, moved wraps ----------------------------------------------------


@FAST
@given(inner=inner_records, raw=raws)
def test_wrong_keyset_private_key_fails(inner: InnerRecord, raw: bytes) -> None:
    envelope, wrap, _ = seal_and_wrap(inner, raw)
    with pytest.raises(CryptoError):
        open_wrap(wrap, OTHER_KEYSET.private_key)
    with pytest.raises(CryptoError):
        open_wrap(wrap, PrivateKey.generate())


@FAST
@given(inner=inner_records, raw=raws, key=st.binary(min_size=32, max_size=32))
def test_wrong_content_key_fails(inner: InnerRecord, raw: bytes, key: bytes) -> None:
    envelope, _, real = seal_and_wrap(inner, raw)
    assume(key != real)
    with pytest.raises(CryptoError):
        open_message(envelope, key)


@FAST
@given(other=st.binary(min_size=ENVELOPE_ID_BYTES, max_size=ENVELOPE_ID_BYTES))
def test_check_fails_for_a_wrong_id(other: bytes) -> None:
    envelope, _, _ = seal_and_wrap(SIMPLE, b"hello")
    assume(other != envelope.envelope_id)
    with pytest.raises(CryptoError):
        envelope.check(other)
    with pytest.raises(CryptoError):
        envelope.check(envelope.envelope_id[:-1])


def test_check_refuses_an_unknown_version() -> None:
    envelope, _, _ = seal_and_wrap(SIMPLE, b"hello")
    future = Envelope(bytes([ENVELOPE_VERSION + 1]) + envelope.header[1:], envelope.body)
    with pytest.raises(Corrupt):
        future.check(future.envelope_id)


def test_header_of_wrong_length_is_corrupt() -> None:
    envelope, _, key = seal_and_wrap(SIMPLE, b"hello")
    for header in (envelope.header[:-1], envelope.header + b"\x00", b""):
        broken = Envelope(header, envelope.body)
        with pytest.raises(Corrupt):
            _ = broken.account_id
        with pytest.raises(MesyxError):
            open_message(broken, key)


def test_wrap_moved_to_another_envelope_fails() -> None:
    first, wrap1, key1 = seal_and_wrap(SIMPLE, b"first")
    second, wrap2, _ = seal_and_wrap(SIMPLE, b"second")
    moved = KeyWrap(second.envelope_id, wrap1.keyset_id, wrap1.sealed)
    with pytest.raises(CryptoError):
        open_wrap(moved, KEYSET.private_key)
    with pytest.raises(CryptoError):
        open_all(second, wrap1)  # wrap still names the first envelope: id check fails
    with pytest.raises(CryptoError):
        open_message(second, key1)  # and the first key does not open the second body
    assert open_all(second, wrap2) == (SIMPLE, b"second")


def test_body_moved_under_another_header_fails() -> None:
    first, _, key1 = seal_and_wrap(SIMPLE, b"same size")
    other_inner = InnerRecord(SIMPLE.received_at + 5 * DAY, SIMPLE.source, SIMPLE.mail_from, SIMPLE.rcpt_to)
    second, _, _ = seal_and_wrap(other_inner, b"same size")
    assert len(first.header) == len(second.header) and first.header != second.header
    with pytest.raises(CryptoError):
        open_message(Envelope(second.header, first.body), key1)
    envelope, key = seal_message(OTHER_ACCOUNT, SIMPLE, b"same size")
    with pytest.raises(CryptoError):
        open_message(Envelope(first.header, envelope.body), key)


# -- Padmé --------------------------------------------------------------------------------


@given(st.integers(0, 2**48))
def test_padme_never_shrinks_and_is_idempotent(n: int) -> None:
    assert padme(n) >= n
    assert padme(padme(n)) == padme(n)


@given(st.integers(0, 2**48))
def test_padme_is_monotone(n: int) -> None:
    assert padme(n) <= padme(n + 1)


def test_padme_is_monotone_exhaustively_for_small_lengths() -> None:
    values = [padme(n) for n in range(70000)]
    assert all(a <= b for a, b in pairwise(values))


@given(st.integers(1, 2**48))
def test_padme_overhead_is_at_most_12_percent(n: int) -> None:
    # Nikitin et al. (PETS 2019): at most 11.63 % (n = 129); 1/9 near n = 9.
    assert (padme(n) - n) * 100 <= 12 * n


def test_padme_overhead_bound_is_tight_where_the_paper_says() -> None:
    assert padme(9) == 10
    assert padme(129) == 144
    worst = max((padme(n) - n) / n for n in range(1, 1 << 16))
    assert 0.11 < worst < 0.12


@pytest.mark.parametrize("exponent", range(1, 31))
def test_padme_leaks_few_bits(exponent: int) -> None:
    # Within [2**E, 2**(E+1)) only about 2**(floor(log2 E) + 1) sizes remain: O(log log n) bits.
    start = 1 << exponent
    step = max(1, start >> 14)
    sizes = {padme(n) for n in range(start, 2 * start, step)} | {padme(2 * start - 1)}
    assert len(sizes) <= 2 ** exponent.bit_length() + 1


def test_padme_small_values() -> None:
    assert [padme(n) for n in range(9)] == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert padme(1000) == 1024
    assert padme(1 << 20) == 1 << 20


@FAST
@given(inner=inner_records, raw=raws)
def test_padding_hides_lengths_within_a_bucket(inner: InnerRecord, raw: bytes) -> None:
    envelope, _, _ = seal_and_wrap(inner, raw)
    envelope2, _, _ = seal_and_wrap(inner, raw + b"\x00")
    # One byte more never gives away more than the Padmé bucket does.
    assert envelope2.padded_size in (envelope.padded_size, padme(envelope.padded_size + 1))


# -- inner record --------------------------------------------------------------------------


@FAST
@given(inner=inner_records)
def test_inner_record_round_trip(inner: InnerRecord) -> None:
    assert InnerRecord.decode(inner.encode()) == inner


@pytest.mark.parametrize(
    "data",
    [b"", b"{", b"[]", b"null", b'{"received_at": 1}', b'{"received_at":"x","source":"smtp"}', b"\xff\xfe"],
)
def test_inner_record_malformed_is_corrupt(data: bytes) -> None:
    with pytest.raises(Corrupt):
        InnerRecord.decode(data)
