"""``GET /v1/experiments/{ref}/results?prior=...``: the prior per analysis, a 422 for bad ones."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ablab import Client
from ablab.domain.keys import Scope
from ablab.errors import ValidationError
from tests.conversion_test import send_conversion_test
from tests.server.conftest import Project
from tests.stats._bayes_references import beta_chance_to_win, beta_relative_quantile
from tests.stats._stats_references import beta_probability_exact

CONTROL, TREATMENT = (400, 60), (404, 78)


def _conversion_test(project: Project) -> None:
    api = project.http()
    arms = {"control": CONTROL, "treatment": TREATMENT}
    send_conversion_test(api, arms, analysis_method="bayesian")
    project.server.state.event_log.flush()


def _row(project: Project, query: str = "") -> dict[str, Any]:
    answer = project.http().get(f"/v1/experiments/checkout/results{query}")
    assert answer.status_code == 200, answer.text
    rows = [c for c in answer.json()["comparisons"] if c["metric"] == "converted"]
    assert len(rows) == 1
    row: dict[str, Any] = rows[0]
    return row


def _posteriors(a: float, b: float) -> tuple[tuple[float, float], tuple[float, float]]:
    (control_units, control_successes), (units, successes) = CONTROL, TREATMENT
    return (
        (control_successes + a, control_units - control_successes + b),
        (successes + a, units - successes + b),
    )


def test_jeffreys_by_default_uniform_on_request(project: Project) -> None:
    _conversion_test(project)
    default = _row(project)
    assert default["prior"] == "Beta(0.5, 0.5) (Jeffreys) on each arm's rate"
    control, treatment = _posteriors(0.5, 0.5)
    assert default["prob_beat_control"] == pytest.approx(
        beta_chance_to_win(control, treatment), abs=1e-9
    )
    # At alpha 0.05 the interval is the 5% and 95% quantiles: the Bayesian verdict's bounds.
    expected = [beta_relative_quantile(control, treatment, p) for p in (0.05, 0.95)]
    assert default["credible_interval"] == pytest.approx(expected, rel=1e-7)
    significant = default["prob_beat_control"] > 0.95
    assert default["significant"] == significant == (default["credible_interval"][0] > 0)

    uniform = _row(project, "?prior=uniform")
    assert uniform["prior"] == "Beta(1, 1) (Uniform) on each arm's rate"
    exact = beta_probability_exact(
        *(int(x) for x in (*_posteriors(1, 1)[0], *_posteriors(1, 1)[1]))
    )
    assert uniform["prob_beat_control"] == pytest.approx(exact, abs=1e-9)
    assert uniform["p_value"] == default["p_value"]

    custom = _row(project, "?prior=beta:2,8&prior=normal:0,0.09")
    assert custom["prior"] == "Beta(2, 8) on each arm's rate"
    assert not math.isclose(custom["prob_beat_control"], default["prob_beat_control"])


@pytest.mark.parametrize(
    "query",
    ["?prior=beta:0,1", "?prior=gamma:1,1", "?prior=normal:0,-1", "?prior=jeffreys&prior=uniform",
     "?prior=beta:1,%202", "?prior="],
)  # fmt: skip
def test_a_bad_prior_is_a_422_naming_the_field(project: Project, query: str) -> None:
    _conversion_test(project)
    answer = project.http().get(f"/v1/experiments/checkout/results{query}")
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["field"] == "prior"


def test_the_sdk_chooses_the_prior_too(project: Project) -> None:
    _conversion_test(project)
    with Client(base_url=project.server.url, api_key=project.key(Scope.READ)) as client:
        found = client.experiments.results("checkout", prior="uniform")
        row = next(c for c in found.comparisons if c.metric == "converted")
        assert row.prior == "Beta(1, 1) (Uniform) on each arm's rate"
        with pytest.raises(ValidationError) as refused:
            client.experiments.results("checkout", prior="beta:1")
        assert refused.value.details["field"] == "prior"
