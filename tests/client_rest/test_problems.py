"""Problem details (RFC 9457) for every failure, and bounded request sizes: never a 500 for bad input."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.client_rest.conftest import ADDRESS, Running, curl
from tests.helpers.daemon import wait_for

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def _is_problem(reply_status: int, headers: dict[str, str], body: bytes) -> dict[str, object]:
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert PROBLEM_KEYS <= set(problem) <= PROBLEM_KEYS | {"errors", "error_id"}
    assert problem["status"] == reply_status
    return problem


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "{not json"], 400),
        (["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", ""], 400),
        (["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "[1, 2]"], 422),
        (["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", '"x"'], 422),
        (["-X", "POST", "-H", "Content-Type: text/plain", "--data-binary", "hello"], 415),
        (["-X", "POST", "--data-urlencode", f"address={ADDRESS}"], 415),
        (["-X", "GET"], 405),
        (["-X", "DELETE"], 405),
    ],
)
def test_bad_requests_to_login(rest: Running, args: list[str], status: int) -> None:
    reply = curl(f"{rest.url}/v1/login", *args)
    assert reply.status == status
    _is_problem(reply.status, reply.headers, reply.body)


def test_method_not_allowed_names_the_allowed_ones(rest: Running) -> None:
    reply = curl(f"{rest.url}/v1/login")
    assert reply.status == 405 and reply.headers["allow"] == "POST"


def test_unknown_path_is_404(rest: Running) -> None:
    reply = curl(f"{rest.url}/v1/nothing-here")
    problem = _is_problem(404, reply.headers, reply.body)
    assert problem["type"] == "/docs#problem-not-found"


def test_body_that_is_not_utf8_is_400(rest: Running, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.write_bytes(b'{"address": "\xff\xfe", "password": "x"}')
    reply = curl(f"{rest.url}/v1/login", "-H", "Content-Type: application/json", "--data-binary", f"@{raw}",
                 method="POST")  # fmt: skip
    assert reply.status in (400, 422)
    _is_problem(reply.status, reply.headers, reply.body)


def test_oversized_bodies_are_413_before_reading(rest: Running, tmp_path: Path) -> None:
    big = json.dumps({"address": ADDRESS, "password": "x" * 20_000})
    reply = curl(f"{rest.url}/v1/login", method="POST", data=big)
    assert reply.status == 413
    _is_problem(413, reply.headers, reply.body)
    # chunked, no Content-Length: bounded while reading
    chunked = curl(f"{rest.url}/v1/login", "-H", "Transfer-Encoding: chunked", method="POST", data=big)
    assert chunked.status == 413
    # far beyond the app-wide cap too
    huge = tmp_path / "huge"
    huge.write_bytes(b"x" * 200_000)
    args = ["-H", "Transfer-Encoding: chunked", "-H", "Content-Type: application/json", "--data-binary", f"@{huge}"]
    assert curl(f"{rest.url}/v1/login", *args, method="POST").status == 413
    assert curl(f"{rest.url}/v1/login", *args[2:], method="POST").status == 413


def test_passphrase_too_long_is_422_not_argon2(rest: Running) -> None:
    reply = curl(f"{rest.url}/v1/login", method="POST", data=json.dumps({"address": ADDRESS, "password": "x" * 2000}))
    assert reply.status == 422


def test_parser_refusals_are_one_log_line_not_a_traceback(rest: Running, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        reply = curl(f"{rest.url}/docs", "-H", "X-Big: " + "a" * 9000)
        assert reply.status == 400
        wait_for(lambda: any(r.name == "mesyx.http" for r in caplog.records), timeout=10, what="the refusal logged")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_body_near_the_bound_is_read_whole(rest: Running, tmp_path: Path) -> None:
    """16 KiB arrives in several reads; all of it is parsed (JSON allows the padding)."""
    body = tmp_path / "body"
    padding = " " * 16_000
    body.write_text(f'{{"address": "{ADDRESS}",{padding}"password": "wrong"}}')
    for extra in ([], ["-H", "Transfer-Encoding: chunked"]):
        args = [*extra, "-H", "Content-Type: application/json", "--data-binary", f"@{body}"]
        reply = curl(f"{rest.url}/v1/login", *args, method="POST")
        assert reply.status == 401, reply  # parsed whole, then refused as a bad password
