"""The experiments page (seed 004): stat cards, the table, the New form, the detail drawer.

``/experiments?view=NAME`` opens the drawer of one experiment; ``&analysis=1`` shows its
analysis, which the drawer's Analyze button computes (taking any automatic action, as the
REST API's ``analyze`` does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ablab.contract.base import parse
from ablab.contract.experiments import ExperimentCreate, ExperimentPublic
from ablab.contract.results import ExperimentResults
from ablab.domain.lifecycle import Action, ExperimentStatus
from ablab.errors import AblabError, NotFound, ValidationError
from ablab.server.console.session import ServingWriterForm, Viewer, ViewerDep
from ablab.server.console.templating import flash_redirect, render
from ablab.services.analysis.results import experiment_results
from ablab.services.automation.guard import analyze_experiment
from ablab.services.experiments import catalogue
from ablab.services.experiments import lifecycle as experiments

router = APIRouter(include_in_schema=False)

_ACTIONS = {
    "launch": Action.LAUNCH,
    "stop": Action.STOP,
    "pause": Action.PAUSE,
    "resume": Action.RESUME,
}


@router.get("/experiments")
def experiments_page(
    request: Request, viewer: ViewerDep, view: str | None = None, analysis: bool = False
) -> Response:
    stored = experiments.list_experiments(viewer.ctx)
    found = [ExperimentPublic.from_domain(e) for e in stored]
    created = {e.id: e.created_at for e in stored}
    selected = next((e for e in found if view in (e.id, e.name)), None) if view else None
    results, error = None, None
    if selected is not None and (analysis or selected.bandit) and selected.variants:
        try:
            found_results = experiment_results(viewer.ctx, viewer.state.events, selected.id)
            results = ExperimentResults.model_validate(found_results)
        except AblabError as exc:
            error = exc.message
    return render(
        request,
        "experiments.html",
        {
            "viewer": viewer,
            "experiments": found,
            "created": created,
            "stats": {
                "total": len(found),
                "running": sum(e.status is ExperimentStatus.RUNNING for e in found),
                "winners": sum(e.winner is not None for e in found),
            },
            "selected": selected,
            "results": results,
            "show_analysis": analysis and results is not None,
            "analysis_error": error,
            "not_found": view if view and selected is None else None,
        },
        status_code=404 if view and selected is None else 200,
    )


@dataclass
class NewExperimentForm:
    """What the New form holds, kept when the server refuses it so nothing is lost."""

    name: str = ""
    hypothesis: str = ""
    model: str = ""
    primary_metric: str = "accuracy"
    bandit: bool = False
    variants: list[tuple[str, str, str]] = field(
        default_factory=lambda: [("control", "", "50"), ("treatment", "", "50")]
    )
    mde: str = ""
    max_duration_days: str = ""


def _new_page(
    request: Request, viewer: Viewer, form: NewExperimentForm, error: str | None = None
) -> Response:
    models = catalogue.list_models(viewer.ctx)
    return render(
        request,
        "experiment_new.html",
        {
            "viewer": viewer,
            "form": form,
            "error": error,
            "models": [(m.name, [v.version for v in versions]) for m, versions in models],
        },
        status_code=422 if error else 200,
    )


@router.get("/experiments/new")
def new_experiment_page(request: Request, viewer: ViewerDep) -> Response:
    return _new_page(request, viewer, NewExperimentForm())


@router.post("/experiments")
def create_experiment(
    request: Request,
    viewer: ServingWriterForm,
    *,
    name: Annotated[str, Form(max_length=128)] = "",
    hypothesis: Annotated[str, Form(max_length=4000)] = "",
    model: Annotated[str, Form(max_length=128)] = "",
    primary_metric: Annotated[str, Form(max_length=64)] = "accuracy",
    bandit: Annotated[bool, Form()] = False,
    variant_name: Annotated[list[str] | None, Form()] = None,
    variant_version: Annotated[list[str] | None, Form()] = None,
    variant_weight: Annotated[list[str] | None, Form()] = None,
    mde: Annotated[str, Form(max_length=32)] = "",
    max_duration_days: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    names, versions, weights = variant_name or [], variant_version or [], variant_weight or []
    rows = [
        (n.strip(), v.strip(), w.strip())
        for n, v, w in zip(names, versions, weights, strict=False)
        if n.strip() or v.strip() or w.strip()
    ]
    form = NewExperimentForm(
        name.strip(),
        hypothesis.strip(),
        model,
        primary_metric,
        bandit,
        rows,
        mde.strip(),
        max_duration_days.strip(),
    )
    try:
        spec = _spec(form)
        created = experiments.create_experiment(viewer.ctx, spec.to_spec())
    except AblabError as exc:
        return _new_page(request, viewer, form, exc.message)
    return flash_redirect(f"/experiments?view={created.name}", f"Created {created.name} (draft)")


def _spec(form: NewExperimentForm) -> ExperimentCreate:
    """The create request a filled-in form asks for.

    Only what is the form's own is checked here (a field left empty, a weight that is not a
    number); the rules of variants and weights are the domain's
    (``domain.experiments.validate_variants``), applied when the experiment is created.
    """
    if not form.name:
        raise ValidationError("give the experiment a name")
    variants = []
    for index, (name, version, weight) in enumerate(form.variants, start=1):
        if not name:
            raise ValidationError(f"variant {index} needs a name")
        try:
            share = float(weight or "0")
        except ValueError:
            raise ValidationError(f"the weight of {name} must be a number of percent") from None
        variants.append(
            {"name": name, "model_version": version or None, "weight": share,
             "is_control": index == 1}
        )  # fmt: skip
    # parse, not the constructor: a value out of the schema's range is the user's mistake
    # (a one-line 422 on the form), not pydantic's exception (a 500).
    return parse(
        ExperimentCreate,
        {
            "name": form.name,
            "hypothesis": form.hypothesis,
            "model_id": form.model or None,
            "primary_metric": form.primary_metric or "accuracy",
            "bandit": form.bandit,
            "variants": variants,
            "mde": float(_number(form.mde, "the MDE")) if form.mde else None,
            "max_duration_days": (
                int(_number(form.max_duration_days, "the maximum duration in days", whole=True))
                if form.max_duration_days
                else None
            ),
            "draft": True,
        },
    )


def _number(text: str, what: str, *, whole: bool = False) -> float:
    """A number typed into the form (its range is the schema's to check)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or (whole and not value.is_integer()):
        kind = "a whole number" if whole else "a number"
        raise ValidationError(f"{what} must be {kind}, got {text!r}")
    return value


@router.post("/experiments/{ref}/analyze")
async def analyze(ref: str, viewer: ServingWriterForm) -> Response:
    state = viewer.state
    try:
        found = await run_in_threadpool(
            analyze_experiment, viewer.ctx, state.events, ref, state.alerts
        )
    except AblabError as exc:
        return flash_redirect(f"/experiments?view={ref}", exc.message, "error")
    name = found.experiment.name
    return flash_redirect(f"/experiments?view={name}&analysis=1", f"Analysed {name}")


@router.post("/experiments/{ref}/{action}")
def act(
    ref: str,
    action: str,
    viewer: ServingWriterForm,
    back: Annotated[str, Form()] = "",
    expected_version: Annotated[int | None, Form(ge=1)] = None,
) -> Response:
    """A lifecycle button: taken only if the experiment is still the version the page
    showed (two people pressing Pause and Stop at once: the second is told, not obeyed)."""
    chosen = _ACTIONS.get(action)
    target = back if back.startswith("/") and not back.startswith("//") else "/experiments"
    if chosen is None:
        return flash_redirect(target, f"unknown action {action!r}", "error")
    try:
        changed = experiments.transition(viewer.ctx, ref, chosen, expected_version=expected_version)
    except NotFound as exc:
        return flash_redirect("/experiments", exc.message, "error")
    except AblabError as exc:
        return flash_redirect(target, exc.message, "error")
    return flash_redirect(target, f"{changed.name} is {changed.status.value}")
