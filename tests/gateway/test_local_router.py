"""``client.router``: in-process models by variant, with fallback, breaker and shadows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sklearn.linear_model import LogisticRegression

from ablab import Client, Unavailable


def make_client(home: Path, **options: Any) -> Client:
    client = Client(home=home)
    for version in ("1.0.0", "2.0.0"):
        client.models.register("radiology-v1", version, endpoint=f"http://m/{version}")
    client.experiments.create(
        "trial",
        model_id="radiology-v1",
        control_version="1.0.0",
        treatment_version="2.0.0",
        **options,
    )
    return client


class Flaky:
    def __init__(self, answer: str) -> None:
        self.answer, self.failing, self.calls = answer, False, 0

    def __call__(self, features: Any) -> str:
        self.calls += 1
        if self.failing:
            raise RuntimeError("model crashed")
        return self.answer


def test_routes_by_variant_and_logs(home: Path) -> None:
    with make_client(home) as client:
        router = client.router("trial", {"1.0.0": Flaky("normal"), "2.0.0": Flaky("pneumonia")})
        answers = [router.predict(f"d{i}", [1.0]) for i in range(40)]
        for answer in answers:
            assert answer.prediction == ("pneumonia" if answer.variant == "treatment" else "normal")
        router.close()
        results = client.experiments.results("trial")
        assert sum(v.predictions for v in results.variants) == 40


def test_fallback_and_breaker_in_process(home: Path) -> None:
    treatment = Flaky("pneumonia")
    with make_client(home) as client:
        router = client.router("trial", {"1.0.0": Flaky("normal"), "2.0.0": treatment})
        units = [f"d{i}" for i in range(100) if router.predict(f"d{i}", [0]).variant == "treatment"]
        treatment.failing = True
        before = treatment.calls
        answers = [router.predict(unit, [0]) for unit in units[:30]]
        assert all(a.fallback and a.prediction == "normal" for a in answers)
        assert treatment.calls - before < 10  # the circuit opened
        router.close()


def test_an_sklearn_estimator_and_a_missing_control(home: Path) -> None:
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    with make_client(home) as client:
        router = client.router("trial", {"2.0.0": model})
        variants = {f"u{i}": client.assign("trial", f"u{i}").variant for i in range(30)}
        treated = [u for u, v in variants.items() if v == "treatment"]
        controlled = [u for u, v in variants.items() if v == "control"]
        assert {router.predict(u, [2.5]).prediction for u in treated} == {1}
        with pytest.raises(Unavailable, match="no model could answer"):
            router.predict(controlled[0], [2.5])  # the control has no model here
        router.close()


def test_shadow_mode_in_process(home: Path) -> None:
    shadow = Flaky("pneumonia")
    with make_client(home, shadow=True) as client:
        router = client.router("trial", {"1.0.0": Flaky("normal"), "2.0.0": shadow})
        answers = [router.predict(f"s{i}", [0]) for i in range(20)]
        assert {a.prediction for a in answers} == {"normal"}
        router.close()
        assert shadow.calls == 20
        report = client.experiments.results("trial").shadow
        assert report is not None
        (treatment,) = report
        assert treatment.pairs == 20
        assert treatment.agreement_rate.value == pytest.approx(0.0)
