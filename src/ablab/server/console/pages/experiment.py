"""The model experiment view: seed 000's results per variant, the guardrails, the shadow
report, the analysis, the breakdown by a unit attribute (``?segment=``), the allocation
history, and three charts over time (lift with its confidence-sequence band, units per
variant, the primary metric per variant)."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from markupsafe import Markup

from ablab.contract.experiments import ExperimentPublic
from ablab.contract.results import ExperimentResults
from ablab.contract.timeseries import ExperimentTimeseries
from ablab.errors import AblabError, NotFound, ValidationError
from ablab.gateway.breaker import BreakerState
from ablab.server.breakers import breaker_states
from ablab.server.console.charts import BandPoint, Point, Series, line_chart
from ablab.server.console.session import Viewer, ViewerDep
from ablab.server.console.templating import render
from ablab.services.analysis.results import experiment_results
from ablab.services.analysis.timeseries import INTERVALS, experiment_timeseries
from ablab.services.context import utc_now
from ablab.services.experiments import lifecycle as experiments
from ablab.services.rollouts.traffic_warnings import experiment_warnings

router = APIRouter(include_in_schema=False)


def auto_interval(age: timedelta) -> str:
    """Buckets that give a young experiment's charts a few dozen points and an old one's
    no more than a few hundred."""
    if age < timedelta(hours=6):
        return "minute"
    return "hour" if age < timedelta(days=7) else "day"


@router.get("/experiments/{ref}")
def experiment_page(
    request: Request,
    viewer: ViewerDep,
    ref: str,
    interval: str | None = None,
    segment: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    try:
        experiment = experiments.get_experiment(viewer.ctx, ref)
    except NotFound as exc:
        return render(request, "message.html", {"viewer": viewer, "message": exc.message}, 404)
    public = ExperimentPublic.from_domain(experiment)
    results = timeseries = None
    error = None
    started = experiment.started_at or experiment.created_at
    chosen = interval if interval in INTERVALS else auto_interval(utc_now() - started)
    segment_error = None
    if experiment.variants:
        try:
            try:
                found = experiment_results(
                    viewer.ctx, viewer.state.events, experiment.id, segment=segment.strip() or None
                )
            except ValidationError as exc:
                if not segment.strip():
                    raise
                # A mistyped attribute costs the breakdown, not the rest of the page.
                segment_error = exc.message
                found = experiment_results(viewer.ctx, viewer.state.events, experiment.id)
            results = ExperimentResults.model_validate(found)
            series = experiment_timeseries(
                viewer.ctx, viewer.state.events, experiment.id, interval_name=chosen
            )
            timeseries = ExperimentTimeseries.model_validate(series)
        except AblabError as exc:
            error = exc.message
    status = 422 if segment_error else 200
    return render(
        request,
        "experiment.html",
        {
            "viewer": viewer,
            "experiment": public,
            "results": results,
            "error": error,
            "charts": _charts(timeseries, public) if timeseries is not None else [],
            "interval": chosen,
            "segment": segment.strip(),
            "segment_error": segment_error,
            "now": utc_now().isoformat(timespec="seconds"),
            "breakers": _breakers(viewer, public),
            # An active rollout of the same model takes most of its new units (advice).
            "warnings": experiment_warnings(viewer.ctx, experiment),
            "intervals": list(INTERVALS),
        },
        status_code=status,
    )


def _breakers(viewer: Viewer, experiment: ExperimentPublic) -> dict[str, str]:
    """Each variant's model backend's circuit breaker as this server process sees it
    (closed when it never called the backend)."""
    if experiment.model_id is None:
        return {}
    states = breaker_states(viewer.state, viewer.session.project_id)
    return {
        v.name: states.get(f"{experiment.model_id}@{v.model_version}", BreakerState.CLOSED).value
        for v in experiment.variants
        if v.model_version
    }


def _charts(series: ExperimentTimeseries, experiment: ExperimentPublic) -> list[Markup]:
    units: dict[str, list[Point]] = defaultdict(list)
    values: dict[str, list[Point]] = defaultdict(list)
    for point in series.variants:
        units[point.variant].append((point.at, float(point.units)))
        values[point.variant].append((point.at, point.value))
    lifts: dict[str, list[Point]] = defaultdict(list)
    bands: dict[str, list[BandPoint]] = defaultdict(list)
    for lift in series.lifts:
        lifts[lift.variant].append((lift.at, lift.relative_lift))
        bands[lift.variant].append((lift.at, *lift.confidence_sequence))
    # A variant keeps its colour in every chart: its place in the experiment (0 the control).
    order = {v.name: index for index, v in enumerate(experiment.variants)}
    return [
        line_chart(
            f"Relative lift in {series.metric} vs control, with its 95% confidence sequence",
            [Series(n, lifts[n], bands[n], colour=c) for n, c in order.items() if n in lifts],
            kind="percent",
            zero_line=True,
        ),
        line_chart(
            "Units per variant",
            [Series(n, units[n], colour=c) for n, c in order.items() if n in units],
            kind="count",
        ),
        line_chart(
            f"{series.metric} per variant",
            [Series(n, values[n], colour=c) for n, c in order.items() if n in values],
        ),
    ]
