"""Analysing a table of units: ``ablab analyze FILE`` and the reports built on it.

For each treatment against the control the test follows the data: CUPED when a covariate is
given, the two-proportion z-test when every value is 0 or 1, Welch's t-test otherwise. Every
comparison also carries the mSPRT (always-valid p-value, log likelihood ratio, confidence
sequence) and the Bayesian probability to beat control; ``method`` chooses which of them
decides significance. p-values are Holm-adjusted across treatments.

The mSPRT mixing variance is fixed by a tuning sample size (5,000 units of both arms, as in
gbstats) times the per-unit variance, never by the current standard error, and follows the
comparison's alternative; its always-valid p-values are Bonferroni-adjusted across
treatments, each test at alpha / m, so that they agree with the confidence sequences shown
(``services.analysis.comparisons``).

``alternative`` (two-sided, greater: treatment above control, less) goes to the fixed-horizon
test and its interval. The decision follows seed 001's rules (``ablab.domain.decisions``),
with the MDE as the practical threshold.

The sample ratio check needs the configured split: a file does not say whether a 95/5 split
was deliberate, so without ``weights`` no SRM check is run and the report says so (an equal
split is never assumed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from ablab.domain.decisions import (
    DecisionThresholds,
    decide,
    decide_overall,
)
from ablab.domain.experiments import AnalysisMethod
from ablab.domain.results.checks import SrmCheck
from ablab.domain.results.comparisons import Cuped
from ablab.domain.results.report import AnalysisReport, VariantFigures
from ablab.domain.sequential import alternative_of
from ablab.errors import ValidationError
from ablab.services.analysis.comparisons import (
    Arm,
    bonferroni_family,
    comparison_row,
    evaluate,
    evidence_for,
    finite,
    interval,
    is_significant,
    oriented_lift,
    planned_units_reached,
)
from ablab.services.ports import UnitTable, UnitTableReader
from ablab.stats import (
    CovariateMoments,
    Moments,
    adjust_p_values,
    cuped_test,
    mean_interval,
    sample_ratio_mismatch,
    two_proportion_z_test,
    welch_t_test,
)

__all__ = ["UnitAnalysisOptions", "analyze_unit_file", "analyze_unit_table", "parse_weights"]

# DESIGN.md: the SRM alarm sounds at p < 0.001 (sample_ratio_mismatch's default).
SRM_THRESHOLD = 0.001


@dataclass(frozen=True, slots=True)
class UnitAnalysisOptions:
    """How to analyse: which arm is the control, the configured weights, the method...

    Attributes:
        metric: Name shown in the report.
        control: The control's variant name; default: the variant called ``control``.
        weights: Configured share of each variant (any positive scale); without them there
            is no SRM check (the split is unknown, never assumed equal).
        method: Which test decides significance.
        alternative: ``two-sided``, ``greater`` (treatment above control) or ``less``.
        alpha: Significance level.
        mde: Relative minimum detectable effect (0.05 is +5%), if planned.
        min_samples: Units per arm below which the decision is to extend the test.
        power: Planned power, with ``mde`` the planned sample size at which a test that is
            still not significant keeps the control.
        higher_is_better: False for metrics such as latency or error rate.
        covariate: Name of the pre-experiment covariate column, for the report.
    """

    metric: str
    control: str | None = None
    weights: Mapping[str, float] | None = None
    method: AnalysisMethod = AnalysisMethod.SEQUENTIAL
    alternative: str = "two-sided"
    alpha: float = 0.05
    mde: float | None = None
    min_samples: int = 100
    power: float = 0.8
    higher_is_better: bool = True
    covariate: str | None = None
    thresholds: DecisionThresholds = field(default_factory=DecisionThresholds)


def parse_weights(text: str) -> dict[str, float]:
    """Parse ``control=0.95,treatment=0.05`` (any positive scale).

    Raises:
        ValidationError: a pair without ``=``, a non-number or a negative weight.
    """
    weights: dict[str, float] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = pair.partition("=")
        try:
            weight = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip() or not math.isfinite(weight) or weight < 0:
            raise ValidationError(
                f"invalid weight {pair!r}: expected NAME=NUMBER, e.g. control=0.5"
            )
        weights[name.strip()] = weight
    if not weights:
        raise ValidationError("no weights given: expected e.g. control=0.5,treatment=0.5")
    return weights


def analyze_unit_file(
    reader: UnitTableReader,
    path: Path,
    *,
    unit: str,
    variant: str,
    metric: str,
    options: UnitAnalysisOptions,
) -> AnalysisReport:
    """Read ``path`` through ``reader`` and analyse it (see ``analyze_unit_table``)."""
    table = reader.read(
        path, unit=unit, variant=variant, metric=metric, covariate=options.covariate
    )
    return analyze_unit_table(table, options)


def analyze_unit_table(table: UnitTable, options: UnitAnalysisOptions) -> AnalysisReport:
    """The full report for a table of units.

    Raises:
        ValidationError: fewer than two variants, an unknown control, or weights that do not
            name every variant.
    """
    if not 0 < options.alpha < 1:
        raise ValidationError(f"alpha must be in (0, 1), got {options.alpha:g}")
    names = sorted(table.variants)
    if len(names) < 2:
        raise ValidationError(
            f"need at least two variants to compare, found {len(names)}: {', '.join(names) or '-'}"
        )
    control = _control_name(names, options.control)
    treatments = [n for n in names if n != control]
    weights = _normalised_weights(names, options.weights)
    srm = _srm(names, {n: table.variants[n].n for n in names}, weights)
    kind = "cuped" if options.covariate else "proportion" if table.binary else "continuous"
    arms = [_compare(table.variants[control], table.variants[t], kind, options) for t in treatments]
    fixed_adjusted = adjust_p_values([a.comparison.p_value for a in arms], "holm")
    arms, valid_adjusted = bonferroni_family(arms)  # each at alpha / m: p and interval agree
    comparisons, recommendations = [], []
    for name, arm, p_adj, valid_adj in zip(
        treatments, arms, fixed_adjusted, valid_adjusted, strict=True
    ):
        significant = is_significant(
            arm, options.method, fixed_adjusted=p_adj, valid_adjusted=valid_adj
        )
        cuped = None
        if options.covariate is not None:
            cuped = Cuped(
                covariate=options.covariate,
                theta=finite(arm.comparison.cuped_theta),
                variance_reduction=finite(arm.comparison.variance_reduction),
            )
        comparisons.append(
            comparison_row(
                name,
                options.metric,
                arm,
                fixed_adjusted=p_adj,
                valid_adjusted=valid_adj,
                significant=significant,
                cuped=cuped,
            )
        )
        evidence = evidence_for(
            name,
            arm,
            higher_is_better=options.higher_is_better,
            significant=significant,
            min_samples=options.min_samples,
            planned_units_reached=planned_units_reached(arm, mde=options.mde, power=options.power),
            srm_mismatch=srm.mismatch,
        )
        evidence = replace(evidence, mde=options.mde)
        recommendations.append(decide(evidence, options.thresholds))
    overall = decide_overall(
        recommendations, [oriented_lift(a, options.higher_is_better) for a in arms]
    )
    return AnalysisReport(
        metric=options.metric,
        metric_kind=kind,
        analysis_method=options.method.value,
        alternative=options.alternative,
        alpha=options.alpha,
        rows=table.rows,
        units=table.units,
        excluded_units=table.excluded_units,
        variants=tuple(
            _figures(n, n == control, table.variants[n], weights.get(n), options.alpha)
            for n in names
        ),
        comparisons=tuple(comparisons),
        srm=srm,
        recommendation=overall,
        decisions=tuple(recommendations),
    )


def _srm(names: list[str], observed: dict[str, int], weights: dict[str, float]) -> SrmCheck:
    """The chi-square against the configured ``weights``; not run when they are unknown."""
    if not weights:
        return SrmCheck(
            p_value=None,
            mismatch=False,
            observed=observed,
            expected={},
            threshold=SRM_THRESHOLD,
            checked=False,
            note="no SRM check: the configured split is unknown (a deliberate 95/5 split "
            "is no mismatch); give it with --weights, e.g. control=0.95,treatment=0.05",
        )
    result = sample_ratio_mismatch([observed[n] for n in names], [weights[n] for n in names])
    return SrmCheck(
        p_value=finite(result.p_value),
        mismatch=result.mismatch,
        observed=observed,
        expected=dict(zip(names, result.expected, strict=True)),
        threshold=result.threshold,
    )


def _compare(
    control: CovariateMoments, treatment: CovariateMoments, kind: str, options: UnitAnalysisOptions
) -> Arm:
    plain_control, plain_treatment = _metric_only(control), _metric_only(treatment)
    level, alternative = options.alpha, alternative_of(options.alternative)
    if kind == "cuped":
        comparison = cuped_test(control, treatment, alpha=level, alternative=alternative)
    elif kind == "proportion":
        comparison = two_proportion_z_test(
            plain_control, plain_treatment, alpha=level, alternative=alternative
        )
    else:
        comparison = welch_t_test(
            plain_control, plain_treatment, alpha=level, alternative=alternative
        )
    return evaluate(comparison)


def _metric_only(moments: CovariateMoments) -> Moments:
    return Moments(moments.n, moments.metric_sum, moments.metric_sum_sq)


def _figures(
    name: str, is_control: bool, moments: CovariateMoments, weight: float | None, alpha: float
) -> VariantFigures:
    plain = _metric_only(moments)
    return VariantFigures(
        name=name,
        is_control=is_control,
        units=plain.n,
        mean=finite(plain.mean) if plain.n else None,
        ci=interval(mean_interval(plain, alpha=alpha)),
        weight=weight,
    )


def _control_name(names: list[str], control: str | None) -> str:
    if control is not None:
        if control not in names:
            raise ValidationError(
                f"--control {control!r} is not a variant in the data (variants: {', '.join(names)})"
            )
        return control
    for name in names:
        if name.lower() == "control":
            return name
    raise ValidationError(
        f"no variant is called 'control': name it with --control (variants: {', '.join(names)})"
    )


def _normalised_weights(names: list[str], weights: Mapping[str, float] | None) -> dict[str, float]:
    """Shares summing to 1, or nothing when the split is unknown."""
    if weights is None:
        return {}
    missing, unknown = set(names) - set(weights), set(weights) - set(names)
    if missing or unknown:
        raise ValidationError(
            "--weights must name every variant in the data exactly: "
            + "; ".join(
                part
                for part in (
                    f"missing {', '.join(sorted(missing))}" if missing else "",
                    f"unknown {', '.join(sorted(unknown))}" if unknown else "",
                )
                if part
            )
        )
    total = sum(weights.values())
    if total <= 0:
        raise ValidationError("--weights must not all be zero")
    return {n: weights[n] / total for n in names}
