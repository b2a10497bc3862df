from __future__ import annotations

import pytest

from ablab.domain.guardrails import Bound, Guardrail, parse_guardrail
from ablab.domain.models import BackendKind, validate_backend
from ablab.errors import ValidationError


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("error_rate<=0.01", Guardrail("error_rate", Bound.AT_MOST, 0.01)),
        (" latency_p95_ms <= 200 ", Guardrail("latency_p95_ms", Bound.AT_MOST, 200)),
        ("accuracy>=0.8", Guardrail("accuracy", Bound.AT_LEAST, 0.8)),
        ("revenue>=-1e3", Guardrail("revenue", Bound.AT_LEAST, -1000)),
    ],
)
def test_parse_guardrail(spec: str, expected: Guardrail) -> None:
    assert parse_guardrail(spec) == expected


@pytest.mark.parametrize("spec", ["error_rate<0.01", "error_rate<=", "<=3", "x<=1.2.3", "a<=nan"])
def test_malformed_guardrails_are_refused(spec: str) -> None:
    with pytest.raises(ValidationError, match="invalid guardrail"):
        parse_guardrail(spec)


def test_guardrail_bounds() -> None:
    at_most = parse_guardrail("error_rate<=0.01")
    assert at_most.is_violated_by(0.02)
    assert not at_most.is_violated_by(0.01)
    at_least = parse_guardrail("accuracy>=0.8")
    assert at_least.is_violated_by(0.79)
    assert not at_least.is_violated_by(0.8)
    assert str(at_most) == "error_rate<=0.01"


@pytest.mark.parametrize(
    ("kind", "uri"),
    [
        (BackendKind.ENDPOINT, "http://127.0.0.1:9000/predict"),
        (BackendKind.ENDPOINT, "https://models.example/v2"),
        (BackendKind.ARTIFACT, "models/v2.joblib"),
        (BackendKind.ARTIFACT, "my_pkg.models:predict"),
    ],
)
def test_valid_backends(kind: BackendKind, uri: str) -> None:
    assert validate_backend(kind, uri) == uri


@pytest.mark.parametrize(
    ("kind", "uri"),
    [
        (BackendKind.ENDPOINT, "ftp://host/x"),
        (BackendKind.ENDPOINT, "http://"),
        (BackendKind.ENDPOINT, "localhost:9000"),
        (BackendKind.ARTIFACT, "model.txt"),
        (BackendKind.ARTIFACT, "not a callable"),
    ],
)
def test_invalid_backends(kind: BackendKind, uri: str) -> None:
    with pytest.raises(ValidationError, match="invalid"):
        validate_backend(kind, uri)
