"""Tests of mesyx.log: the kv and json formats, redaction, levels, bytes and exceptions."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesyx.errors import UsageError
from mesyx.log import (
    EventLogger,
    get_logger,
    is_secret_field,
    new_error_id,
    render_value,
    setup_logging,
)

KV_LINE = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (debug|info|warning|error) \S+ \S+( .*)?\Z"
)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Leave no Mesyx handler behind: it would write to a stream pytest has closed."""
    top = logging.getLogger()
    handlers, level = list(top.handlers), top.level
    yield
    for handler in [h for h in top.handlers if h not in handlers]:
        top.removeHandler(handler)
    top.setLevel(level)
    for name in ("mesyx", "mesyx.smtp", "mesyx.store"):
        logging.getLogger(name).setLevel(logging.NOTSET)


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    """Capture Mesyx logs in a buffer."""
    buffer = io.StringIO()
    setup_logging(stream=buffer)
    yield buffer


def lines(buffer: io.StringIO) -> list[str]:
    return buffer.getvalue().splitlines()


def test_kv_line_shape(out: io.StringIO) -> None:
    get_logger("smtp").info("listening", addr="127.0.0.1", port=20025)
    (line,) = lines(out)
    assert KV_LINE.match(line), line
    assert line.endswith(" info smtp listening addr=127.0.0.1 port=20025")


def test_kv_quotes_values_that_need_it(out: io.StringIO) -> None:
    get_logger("smtp").warning(
        "refused", reason="too big", eq="a=b", q='say "hi"', empty="", ok="plain", n=None,
        flag=True, ratio=0.5, items=["a", "b c"],
    )  # fmt: skip
    (line,) = lines(out)
    assert ' reason="too big"' in line
    assert ' eq="a=b"' in line
    assert r' q="say \"hi\""' in line
    assert ' empty=""' in line
    assert " ok=plain" in line
    assert " n=null flag=true ratio=0.5" in line
    assert r' items="[\"a\",\"b c\"]"' in line


@given(st.text(max_size=300))
def test_kv_value_never_breaks_the_line(value: str) -> None:
    rendered = render_value("subject", value)
    assert rendered.isprintable()
    assert len(rendered.splitlines()) <= 1
    if value and value.isprintable() and not re.search(r'[\s="\\\']', value):
        assert rendered == value
    else:
        assert json.loads(rendered) == value


def test_kv_escapes_newlines_and_control_characters(out: io.StringIO) -> None:
    get_logger("smtp").info("helo", name="evil\n2026-01-01T00:00:00.000Z error x forged\x00\u2028")
    (line,) = lines(out)
    assert "forged" in line and "\\n" in line and "\\u0000" in line and "\\u2028" in line


def test_json_format(out: io.StringIO) -> None:
    setup_logging(fmt="json", stream=out)
    get_logger("store").info("committed", count=3, ids=["a"], blob=b"\x00" * 32, ok=True)
    (line,) = lines(out)
    obj = json.loads(line)
    assert obj["level"] == "info" and obj["subsystem"] == "store" and obj["event"] == "committed"
    assert obj["count"] == 3 and obj["ids"] == ["a"] and obj["blob"] == "<32 bytes>"
    assert obj["ok"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", obj["ts"])


def test_odd_field_names_are_quoted(out: io.StringIO) -> None:
    get_logger("x").info("e", **{"a b=c": 1})
    assert lines(out)[0].endswith(' e "a b=c"=1')


def test_json_keeps_fields_named_like_reserved_keys(out: io.StringIO) -> None:
    setup_logging(fmt="json", stream=out)
    get_logger("x").info("e", level="custom", event="inner")
    obj = json.loads(lines(out)[0])
    assert obj["level"] == "info" and obj["field_level"] == "custom"
    assert obj["event"] == "e" and obj["field_event"] == "inner"


SECRETS = [
    "passphrase", "password", "smtp_password", "secret", "client_secret", "token",
    "auth_token", "private", "private_half", "master_key", "content_key", "signing_key",
    "key", "box_key", "api_key", "Passphrase", "seed",
]  # fmt: skip
NOT_SECRETS = [
    "keyset_id", "key_id", "public_key", "box_public_key", "key_file", "passphrase_file",
    "keyset", "keywords", "account", "node_id", "monkey_business", "envelope_id",
]  # fmt: skip


@pytest.mark.parametrize("name", SECRETS)
def test_secret_fields_are_redacted(name: str, out: io.StringIO) -> None:
    get_logger("crypto").info("unlock", **{name: "hunter2"})
    setup_logging(fmt="json", stream=out)
    get_logger("crypto").info("unlock", **{name: "hunter2"})
    kv, js = lines(out)
    assert "hunter2" not in out.getvalue()
    assert f"{name}=<redacted>" in kv
    assert json.loads(js)[name] == "<redacted>"


@pytest.mark.parametrize("name", NOT_SECRETS)
def test_identifiers_are_not_redacted(name: str) -> None:
    assert not is_secret_field(name)
    assert render_value(name, "abc") == "abc"


def test_secrets_inside_nested_values_are_redacted(out: io.StringIO) -> None:
    get_logger("cli").info("args", options={"user": "a", "password": "hunter2", "n": 1})
    assert "hunter2" not in out.getvalue()
    assert "<redacted>" in out.getvalue()


def test_bytes_and_key_objects_never_print_raw(out: io.StringIO) -> None:
    class FakeKey:
        def __bytes__(self) -> bytes:
            return b"s3cr3t"

        def __str__(self) -> str:
            return "s3cr3t"

    log = get_logger("crypto")
    log.info("loaded", blob=b"s3cr3t", buf=bytearray(b"abc"), view=memoryview(b"ab"), k=FakeKey())
    (line,) = lines(out)
    assert "s3cr3t" not in line
    assert "blob=<6 bytes>" in line and "buf=<3 bytes>" in line and "view=<2 bytes>" in line
    assert "k=<FakeKey>" in line


def test_subsystem_levels(out: io.StringIO) -> None:
    setup_logging(level="warning", subsystems={"smtp": "debug"}, stream=out)
    get_logger("smtp").debug("line", n=1)
    get_logger("smtp.session").debug("inherits", n=2)
    get_logger("store").info("hidden")
    get_logger("store").warning("shown")
    text = out.getvalue()
    assert "smtp line n=1" in text
    assert "smtp.session inherits n=2" in text
    assert "hidden" not in text and "store shown" in text
    assert get_logger("smtp").enabled("debug") and not get_logger("store").enabled("info")


def test_reconfiguring_drops_old_subsystem_levels(out: io.StringIO) -> None:
    setup_logging(level="info", subsystems={"smtp": "error"}, stream=out)
    setup_logging(level="info", stream=out)
    get_logger("smtp").info("visible-again")
    assert "visible-again" in out.getvalue()
    # only one Mesyx handler stays installed, so nothing is logged twice
    assert len(lines(out)) == 1


def test_bad_level_or_format_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="verbose"):
        setup_logging(level="verbose")
    with pytest.raises(UsageError, match="smtp"):
        setup_logging(subsystems={"smtp": "loud"})
    with pytest.raises(UsageError, match="xml"):
        setup_logging(fmt="xml")


def test_exception_logs_type_message_and_traceback(out: io.StringIO) -> None:
    error_id = new_error_id()
    try:
        raise ValueError("boom happened")
    except ValueError:
        get_logger("smtp").exception("internal", error_id=error_id)
    first, *rest = lines(out)
    assert KV_LINE.match(first)
    assert f"error_id={error_id}" in first
    assert 'error="ValueError: boom happened"' in first
    assert rest and all(r.startswith("  | ") for r in rest)
    assert any("Traceback" in r for r in rest)

    setup_logging(fmt="json", stream=out)
    try:
        raise KeyError("k")
    except KeyError:
        get_logger("smtp").exception("internal")
    obj = json.loads(lines(out)[-1])
    assert obj["error"] == "KeyError: 'k'" and "Traceback" in obj["traceback"]


def test_exception_outside_except_block(out: io.StringIO) -> None:
    get_logger("x").exception("odd", n=1)
    (line,) = lines(out)
    assert " error x odd n=1" in line


def test_bind_adds_context(out: io.StringIO) -> None:
    log: EventLogger = get_logger("smtp").bind(session="s1")
    log.info("mail", sender="a@b")
    assert lines(out)[0].endswith("smtp mail session=s1 sender=a@b")
    assert log.name == "mesyx.smtp"


def test_foreign_loggers_pass_at_warning(out: io.StringIO) -> None:
    logging.getLogger("mail.log").info("chatter")
    logging.getLogger("mail.log").warning("peer %s went away", "x")
    text = out.getvalue()
    assert "chatter" not in text
    assert 'warning mail.log message msg="peer x went away"' in text


def test_new_error_id() -> None:
    ids = {new_error_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[a-z2-7]{8}", i) for i in ids)


def test_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    get_logger("daemon").info("started")
    captured = capsys.readouterr()
    assert "daemon started" in captured.err and captured.out == ""
