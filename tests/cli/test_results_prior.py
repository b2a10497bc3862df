"""``ablab experiment results --prior``: the prior chosen per analysis, stated in the results."""

from __future__ import annotations

import json

from tests.cli.test_results_commands import Run, imported  # noqa: F401 (the fixture)


def test_the_prior_is_chosen_per_analysis_and_stated(imported: Run) -> None:  # noqa: F811
    default = json.loads(imported("experiment", "results", "trial", "-o", "json").stdout)
    row = next(c for c in default["comparisons"] if c["metric"] == "accuracy")
    assert row["prior"] == "flat on the relative lift"
    low, high = row["credible_interval"]
    assert low < row["relative_lift"] < high
    chosen = imported(
        "experiment", "results", "trial", "--prior", "normal:0,0.0001", "--prior", "uniform",
        "-o", "json",
    )  # fmt: skip
    assert chosen.code == 0, chosen.stderr
    shrunk = next(c for c in json.loads(chosen.stdout)["comparisons"] if c["metric"] == "accuracy")
    assert shrunk["prior"] == "Normal(mean 0, variance 0.0001) on the relative lift"
    # A tight prior at no effect pulls the credible interval towards 0.
    assert shrunk["credible_interval"][1] < high
    # The frequentist figures do not depend on the prior.
    assert shrunk["p_value"] == row["p_value"]


def test_the_table_never_shows_a_certain_probability(imported: Run) -> None:  # noqa: F811
    result = imported("experiment", "results", "trial")
    assert result.code == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("Chance to beat control"))
    # 600 units per arm, accuracy 0.92 against 0.85: the chance is beyond 99.9%.
    assert line.startswith("Chance to beat control: >99.9%")
    assert "prior flat on the relative lift" in line
    assert "100.0%" not in result.stdout


def test_a_bad_prior_is_one_line_and_exit_2(imported: Run) -> None:  # noqa: F811
    for bad in ("beta:0,1", "gamma:1,2", "normal:0"):
        result = imported("experiment", "results", "trial", "--prior", bad)
        assert result.code == 2, (bad, result.stdout)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert "prior" in lines[0]
        assert bad in lines[0]
