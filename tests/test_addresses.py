"""Mail addresses: what routes, what is refused (always UsageError), and ``+detail``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesyx.addresses import base_address, check_address
from mesyx.errors import UsageError


@pytest.mark.parametrize(
    ("address", "normal"),
    [
        ("alice@mesyx.test", "alice@mesyx.test"),
        ("Alice@Mesyx.TEST", "alice@mesyx.test"),
        ("  bob@example.org\n", "bob@example.org"),  # surrounding white space is trimmed
        ("alice@mesyx.test\r\n", "alice@mesyx.test"),
        ("alice+lists@mesyx.test", "alice+lists@mesyx.test"),
        ("first.last@sub.example.co.uk", "first.last@sub.example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("x!#$%&'*+/=?^_`{|}~-@example.org", "x!#$%&'*+/=?^_`{|}~-@example.org"),
        ("root@localhost", "root@localhost"),
        ("a@b-c.d", "a@b-c.d"),
        ("1@2.3", "1@2.3"),
        ("l" * 64 + "@example.org", "l" * 64 + "@example.org"),
        ("a@" + ".".join(["d" * 63] * 3) + ".example", "a@" + ".".join(["d" * 63] * 3) + ".example"),
    ],
)
def test_accepts_normal_addresses(address: str, normal: str) -> None:
    assert check_address(address) == normal


@pytest.mark.parametrize(
    "address",
    [
        "",
        " ",
        "alice",
        "alice@",
        "@mesyx.test",
        "alice@@mesyx.test",
        "al@ice@mesyx.test",
        "al ice@mesyx.test",
        "alice@mesyx .test",
        ".alice@mesyx.test",
        "alice.@mesyx.test",
        "al..ice@mesyx.test",
        "alice@mesyx..test",
        "alice@.mesyx.test",
        "alice@mesyx.test.",
        "alice@-mesyx.test",
        "alice@mesyx-.test",
        "alice@mes_yx.test",
        '"alice"@mesyx.test',
        "alice@[127.0.0.1]",
        "<alice@mesyx.test>",
        "alice@mesyx.test>",
        "älice@mesyx.test",
        "alice@mesyx.tëst",
        "alice@mesyx.test\nbcc@evil.example",
        "alice@mesyx.test\r\nx",
        "alice\x00@mesyx.test",
        "alice@mesyx.test\x00",
        "l" * 65 + "@example.org",
        "a@" + "d" * 64 + ".example",
        "a@" + ".".join(["d" * 63] * 4) + ".example",  # over 254 characters
        "alice@mesyx.test,bob@mesyx.test",
        "alice@mesyx.test bob@mesyx.test",
    ],
)
def test_refuses_junk(address: str) -> None:
    with pytest.raises(UsageError):
        check_address(address)


@settings(max_examples=500)
@given(st.text(max_size=300))
def test_any_text_is_an_address_or_a_usage_error(candidate: str) -> None:
    try:
        normal = check_address(candidate)
    except UsageError as exc:
        assert "\n" not in str(exc).strip() or "\n" in candidate
        return
    assert normal.isascii() and normal == normal.lower() and normal == normal.strip()
    local, _, domain = normal.partition("@")
    assert local and domain and "@" not in domain
    assert len(normal) <= 254 and len(local) <= 64
    assert not any(c.isspace() or ord(c) < 32 for c in normal)
    assert check_address(normal) == normal


atom = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-",
    min_size=1,
    max_size=10,
)
label = st.from_regex(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)


@given(
    local=st.lists(atom, min_size=1, max_size=3).map(".".join),
    domain=st.lists(label, min_size=1, max_size=4).map(".".join),
)
def test_generated_valid_addresses_are_accepted(local: str, domain: str) -> None:
    assert check_address(f"{local}@{domain}") == f"{local}@{domain}".lower()


@given(st.text(min_size=1, max_size=60))
def test_junk_inserted_into_a_valid_address_is_refused_or_still_valid(junk: str) -> None:
    for candidate in (junk + "@mesyx.test", "alice@" + junk, "ali" + junk + "ce@mesyx.test"):
        try:
            normal = check_address(candidate)
        except UsageError:
            continue
        assert normal == candidate.strip().lower() and normal.count("@") == 1


@pytest.mark.parametrize(
    ("address", "base"),
    [
        ("alice+lists@mesyx.test", "alice@mesyx.test"),
        ("alice+a+b@mesyx.test", "alice@mesyx.test"),
        ("alice+@mesyx.test", "alice@mesyx.test"),
        ("first.last+tag@example.org", "first.last@example.org"),
        ("alice@mesyx.test", None),
        ("+lists@mesyx.test", None),
        ("alice", None),
        ("alice+x", None),
    ],
)
def test_base_address(address: str, base: str | None) -> None:
    assert base_address(address) == base


@given(local=atom.filter(lambda s: "+" not in s), detail=st.text(alphabet="abc+-._", max_size=10))
def test_base_address_strips_any_detail(local: str, detail: str) -> None:
    assert base_address(f"{local}+{detail}@mesyx.test") == f"{local}@mesyx.test"
    assert base_address(f"{local}@mesyx.test") is None
