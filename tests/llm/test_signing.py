"""Webhook signatures: what a user's application checks before it trusts a task."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from ablab.errors import Unauthorized, ValidationError
from ablab.llm.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify

SECRET = "whsec_test"
BODY = b'{"test_id":"t-1","task":{"id":"task-1","input":{"question":"2+2"}}}'
NOW = 1_700_000_000


def test_a_good_signature_passes() -> None:
    verify(SECRET, BODY, sign(SECRET, BODY, NOW), now=NOW)


def test_a_signature_made_now_passes_against_the_clock() -> None:
    verify(SECRET, BODY, sign(SECRET, BODY, int(time.time())))


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    headers = sign(SECRET, BODY, NOW)
    digest = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert headers == {TIMESTAMP_HEADER: "1700000000", SIGNATURE_HEADER: f"sha256={digest}"}


def test_header_names_match_without_regard_to_case() -> None:
    headers = {name.lower(): value for name, value in sign(SECRET, BODY, NOW).items()}
    verify(SECRET, BODY, headers, now=NOW)


def test_a_tampered_body_fails() -> None:
    headers = sign(SECRET, BODY, NOW)
    with pytest.raises(Unauthorized, match="does not match"):
        verify(SECRET, BODY.replace(b"2+2", b"2+3"), headers, now=NOW)


def test_a_wrong_secret_fails() -> None:
    headers = sign("another-secret", BODY, NOW)
    with pytest.raises(Unauthorized, match="does not match"):
        verify(SECRET, BODY, headers, now=NOW)


def test_a_moved_timestamp_breaks_the_signature() -> None:
    headers = sign(SECRET, BODY, NOW - 3600) | {TIMESTAMP_HEADER: str(NOW)}
    with pytest.raises(Unauthorized, match="does not match"):
        verify(SECRET, BODY, headers, now=NOW)


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_a_timestamp_outside_the_tolerance_fails(age: int) -> None:
    headers = sign(SECRET, BODY, NOW)
    with pytest.raises(Unauthorized, match="tolerance") as caught:
        verify(SECRET, BODY, headers, now=NOW + age)
    assert caught.value.details["timestamp"] == NOW


@pytest.mark.parametrize("age", [299, -299])
def test_a_timestamp_inside_the_tolerance_passes(age: int) -> None:
    verify(SECRET, BODY, sign(SECRET, BODY, NOW), now=NOW + age)


def test_the_tolerance_can_be_narrowed() -> None:
    headers = sign(SECRET, BODY, NOW)
    verify(SECRET, BODY, headers, tolerance=5, now=NOW + 5)
    with pytest.raises(Unauthorized, match="tolerance"):
        verify(SECRET, BODY, headers, tolerance=5, now=NOW + 6)


@pytest.mark.parametrize("missing", [TIMESTAMP_HEADER, SIGNATURE_HEADER])
def test_a_missing_header_fails(missing: str) -> None:
    headers = sign(SECRET, BODY, NOW)
    del headers[missing]
    with pytest.raises(Unauthorized, match=f"{missing} header is missing"):
        verify(SECRET, BODY, headers, now=NOW)


def test_no_headers_at_all_fail() -> None:
    with pytest.raises(Unauthorized, match="missing"):
        verify(SECRET, BODY, {}, now=NOW)


@pytest.mark.parametrize("stamp", ["", "soon", "1700000000.5", "-1700000000", "１７"])
def test_a_malformed_timestamp_fails(stamp: str) -> None:
    headers = sign(SECRET, BODY, NOW) | {TIMESTAMP_HEADER: stamp}
    with pytest.raises(Unauthorized, match="whole seconds"):
        verify(SECRET, BODY, headers, now=NOW)


@pytest.mark.parametrize("signature", ["", "md5=abc", "deadbeef", "sha256=", "sha256=é"])
def test_a_malformed_signature_fails(signature: str) -> None:
    headers = sign(SECRET, BODY, NOW) | {SIGNATURE_HEADER: signature}
    with pytest.raises(Unauthorized):
        verify(SECRET, BODY, headers, now=NOW)


def test_the_error_is_the_servers_401() -> None:
    with pytest.raises(Unauthorized) as caught:
        verify(SECRET, BODY, {}, now=NOW)
    assert caught.value.http_status == 401
    assert caught.value.code == "unauthorized"


def test_an_empty_secret_is_refused_on_both_sides() -> None:
    with pytest.raises(ValidationError, match="must not be empty"):
        sign("", BODY, NOW)
    with pytest.raises(ValidationError, match="must not be empty"):
        verify("", BODY, sign(SECRET, BODY, NOW), now=NOW)
