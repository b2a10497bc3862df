"""The New and Edit experiment forms: every option the REST API takes, checked by the API's
own schema (``ExperimentCreate``, ``ExperimentUpdate``) so a refused form shows the API's
message and keeps what was typed.

A form is held as text (what the browser sent) until it is turned into the request; the
metric list offers the model's built-in metrics first when a model is chosen, then the
project's catalogue (``POST /v1/metrics``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ablab.contract.base import parse
from ablab.contract.experiments import ExperimentCreate, ExperimentPublic, ExperimentUpdate
from ablab.domain.experiments import AnalysisMethod
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.metrics import BUILTIN_METRICS
from ablab.errors import AblabError, NotFound, ValidationError
from ablab.server.console.session import (
    ServingWriterForm,
    Viewer,
    WriterPage,
)
from ablab.server.console.templating import flash_redirect, render, render_form
from ablab.services.analysis.sources import list_sources
from ablab.services.experiments import catalogue, metrics
from ablab.services.experiments import lifecycle as experiments
from ablab.services.rollouts.traffic_warnings import experiment_warnings

router = APIRouter(include_in_schema=False)

_DEFAULTS = ExperimentCreate(name="defaults")


@dataclass
class ExperimentForm:
    """What the New form holds, as typed."""

    name: str = ""
    hypothesis: str = ""
    model: str = ""
    primary_metric: str = ""
    secondary_metrics: list[str] = field(default_factory=list)
    variants: list[tuple[str, str, str]] = field(
        default_factory=lambda: [("control", "", "50"), ("treatment", "", "50")]
    )
    group: str = ""
    coverage: str = "100"
    guardrails: str = ""
    min_samples: str = str(_DEFAULTS.min_samples)
    mde: str = ""
    max_duration_days: str = ""
    alpha: str = str(_DEFAULTS.alpha)
    power: str = str(_DEFAULTS.power)
    analysis_method: str = _DEFAULTS.analysis_method.value
    sequential_tuning_units: str = ""
    cuped: bool = True
    cuped_lookback_days: str = str(_DEFAULTS.cuped_lookback_days)
    cuped_covariate: str = ""
    source: str = ""
    bandit: bool = False
    shadow: bool = False
    auto_promote: bool = False
    launch: bool = False


def _options(viewer: Viewer) -> dict[str, Any]:
    """The choices the forms offer: models and versions, groups, metrics, sources."""
    models = catalogue.list_models(viewer.ctx)
    return {
        "models": [(m.name, [v.version for v in versions]) for m, versions in models],
        "groups": [g.name for g in catalogue.list_groups(viewer.ctx)],
        "model_metrics": [(m.name, m.description) for m in BUILTIN_METRICS.values()],
        "custom_metrics": [(m.name, m.description) for m in metrics.list_metrics(viewer.ctx)],
        "sources": [s.name for s in list_sources(viewer.ctx)],
        "methods": [m.value for m in AnalysisMethod],
    }


def _new_page(
    request: Request, viewer: Viewer, form: ExperimentForm, error: str | None = None
) -> Response:
    options = _options(viewer)
    if not form.primary_metric:
        # A model experiment is judged on accuracy by default; a configuration experiment
        # (no model) on the project's first metric, if it has one.
        custom = options["custom_metrics"]
        chosen = "accuracy" if form.model or not custom else custom[0][0]
        form = replace(form, primary_metric=chosen)
    return render_form(
        request,
        "experiment_new.html",
        {"viewer": viewer, "form": form, **options},
        error,
    )


@router.get("/experiments/new")
def new_experiment_page(request: Request, viewer: WriterPage, model: str = "") -> Response:
    return _new_page(request, viewer, ExperimentForm(model=model[:128]))


_Text = Annotated[str, Form(max_length=128)]
_Flag = Annotated[bool, Form()]


@router.post("/experiments")
def create_experiment(
    request: Request,
    viewer: ServingWriterForm,
    *,
    name: _Text = "",
    hypothesis: Annotated[str, Form(max_length=4000)] = "",
    model: _Text = "",
    primary_metric: _Text = "",
    secondary_metrics: Annotated[list[str] | None, Form()] = None,
    variant_name: Annotated[list[str] | None, Form()] = None,
    variant_version: Annotated[list[str] | None, Form()] = None,
    variant_weight: Annotated[list[str] | None, Form()] = None,
    group: _Text = "",
    coverage: _Text = "100",
    guardrails: Annotated[str, Form(max_length=4000)] = "",
    min_samples: _Text = "",
    mde: _Text = "",
    max_duration_days: _Text = "",
    alpha: _Text = "",
    power: _Text = "",
    analysis_method: _Text = "",
    sequential_tuning_units: _Text = "",
    cuped: _Flag = False,
    cuped_lookback_days: _Text = "",
    cuped_covariate: _Text = "",
    source: _Text = "",
    bandit: _Flag = False,
    shadow: _Flag = False,
    auto_promote: _Flag = False,
    launch: _Flag = False,
) -> Response:
    names, versions, weights = variant_name or [], variant_version or [], variant_weight or []
    rows = [
        (n.strip(), v.strip(), w.strip())
        for n, v, w in zip(names, versions, weights, strict=False)
        if n.strip() or v.strip() or w.strip()
    ]
    typed = dict(locals())
    form = ExperimentForm(
        **{
            f.name: (typed[f.name].strip() if isinstance(typed[f.name], str) else typed[f.name])
            for f in fields(ExperimentForm)
            if f.name not in ("variants", "secondary_metrics")
        },
        variants=rows,
        secondary_metrics=[m for m in secondary_metrics or [] if m][:20],
    )
    try:
        created = experiments.create_experiment(viewer.ctx, _create_request(form).to_spec())
    except AblabError as exc:
        return _new_page(request, viewer, form, exc.message)
    state = "running" if form.launch else "draft"
    said = [f"Created {created.name} ({state}).", *experiment_warnings(viewer.ctx, created)]
    return flash_redirect(f"/experiments?view={created.name}", " ".join(said))


def _create_request(form: ExperimentForm) -> ExperimentCreate:
    """The create request a filled-in form asks for.

    Only what is the form's own is checked here (a field left empty, a number that is not
    one); every rule of the request is the API's (the schema's ranges, then the domain's
    rules of variants and weights, applied when the experiment is created).
    """
    if not form.name:
        raise ValidationError("give the experiment a name")
    variants = []
    for index, (name, version, weight) in enumerate(form.variants, start=1):
        if not name:
            raise ValidationError(f"variant {index} needs a name")
        variants.append(
            {"name": name, "model_version": version or None,
             "weight": _number(weight or "0", f"the weight of {name}"), "is_control": index == 1}
        )  # fmt: skip
    body: dict[str, Any] = {
        "name": form.name,
        "hypothesis": form.hypothesis,
        "model_id": form.model or None,
        "primary_metric": form.primary_metric or "accuracy",
        "secondary_metrics": [m for m in form.secondary_metrics if m != form.primary_metric],
        "variants": variants,
        "group": form.group or None,
        "guardrails": _lines(form.guardrails),
        "cuped": form.cuped,
        "cuped_covariate": form.cuped_covariate or None,
        "source": form.source or None,
        "bandit": form.bandit,
        "shadow": form.shadow,
        "auto_promote": form.auto_promote,
        "draft": not form.launch,
    }
    if form.analysis_method:
        body["analysis_method"] = form.analysis_method
    numbers = {
        "coverage": ("the coverage", False),
        "min_samples": ("the minimum samples", True),
        "mde": ("the MDE", False),
        "max_duration_days": ("the maximum duration in days", True),
        "alpha": ("alpha", False),
        "power": ("the power", False),
        "sequential_tuning_units": ("the tuning units", True),
        "cuped_lookback_days": ("the CUPED lookback in days", True),
    }
    for name, (what, whole) in numbers.items():
        text = getattr(form, name)
        if text:
            value = _number(text, what, whole=whole)
            body[name] = int(value) if whole else value
    # parse, not the constructor: a value out of the schema's range is the user's mistake
    # (a one-line 422 on the form), not pydantic's exception (a 500).
    return parse(ExperimentCreate, body)


def _lines(text: str) -> list[str]:
    """One guardrail per line (or comma), as the CLI's repeated ``--guardrail`` takes them."""
    return [part.strip() for line in text.splitlines() for part in line.split(",") if part.strip()]


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


# --- Edit: what PATCH /v1/experiments/{ref} changes ---------------------------------------


@dataclass
class EditForm:
    """The Edit form as typed: the settings an experiment may change after creation."""

    hypothesis: str
    weights: dict[str, str]
    min_samples: str
    max_duration_days: str
    guardrails: str
    auto_promote: bool
    source: str
    primary_metric: str
    version: int

    @classmethod
    def of(cls, e: ExperimentPublic) -> EditForm:
        return cls(
            hypothesis=e.hypothesis,
            weights={v.name: f"{v.weight:g}" for v in e.variants},
            min_samples=str(e.min_samples),
            max_duration_days="" if e.max_duration_days is None else str(e.max_duration_days),
            guardrails="\n".join(
                g.spec or f"{g.metric}{g.bound}{g.threshold:g}" for g in e.guardrails
            ),
            auto_promote=e.auto_promote,
            source=e.source or "",
            primary_metric=e.primary_metric,
            version=e.version,
        )


_REWEIGHTABLE = (ExperimentStatus.DRAFT, ExperimentStatus.RUNNING, ExperimentStatus.PAUSED)


def _editable_primary_metric() -> bool:
    return "primary_metric" in ExperimentUpdate.model_fields


def _edit_page(
    request: Request,
    viewer: Viewer,
    experiment: ExperimentPublic,
    form: EditForm,
    error: str | None = None,
) -> Response:
    return render_form(
        request,
        "experiment_edit.html",
        {
            "viewer": viewer,
            "experiment": experiment,
            "form": form,
            "edits_metric": _editable_primary_metric(),
            "reweights": experiment.status in _REWEIGHTABLE and not experiment.bandit,
            **_options(viewer),
        },
        error,
    )


def _experiment(viewer: Viewer, ref: str) -> ExperimentPublic:
    return ExperimentPublic.from_domain(experiments.get_experiment(viewer.ctx, ref))


@router.get("/experiments/{ref}/edit")
def edit_experiment_page(request: Request, viewer: WriterPage, ref: str) -> Response:
    try:
        found = _experiment(viewer, ref)
    except NotFound as exc:
        return render(request, "message.html", {"viewer": viewer, "message": exc.message}, 404)
    return _edit_page(request, viewer, found, EditForm.of(found))


@router.post("/experiments/{ref}/edit")
async def edit_experiment(request: Request, ref: str, viewer: ServingWriterForm) -> Response:
    try:
        found = _experiment(viewer, ref)
    except NotFound as exc:
        return flash_redirect("/experiments", exc.message, "error")
    posted = await request.form()

    def text(name: str, limit: int = 128) -> str:
        value = posted.get(name)
        return value.strip()[:limit] if isinstance(value, str) else ""

    form = EditForm(
        hypothesis=text("hypothesis", 4000),
        # Weights only when the page offered them (not for an ended or bandit experiment).
        weights={
            v.name: text(f"weight:{v.name}", 32)
            for v in found.variants
            if f"weight:{v.name}" in posted
        },
        min_samples=text("min_samples"),
        max_duration_days=text("max_duration_days"),
        guardrails=text("guardrails", 4000),
        auto_promote=posted.get("auto_promote") == "true",
        # A select the page did not show (or a client that left it out) keeps its value.
        source=text("source") if "source" in posted else (found.source or ""),
        primary_metric=(
            text("primary_metric") if "primary_metric" in posted else found.primary_metric
        ),
        version=found.version,
    )
    try:
        expected = int(text("expected_version") or found.version)
        update = _update_request(form, found, expected)
        experiments.update_experiment(viewer.ctx, ref, update.to_spec())
    except ValueError:
        return _edit_page(request, viewer, found, form, "the page's version is not a number")
    except AblabError as exc:
        return _edit_page(request, viewer, found, form, exc.message)
    return flash_redirect(f"/experiments/{found.name}", f"Saved {found.name}")


def _update_request(form: EditForm, found: ExperimentPublic, expected: int) -> ExperimentUpdate:
    """Only the settings that differ from the experiment's are sent, so an unchanged field
    is never refused for a status that forbids changing it (weights of a stopped test)."""
    was = EditForm.of(found)
    body: dict[str, Any] = {"expected_version": expected}
    if form.hypothesis != was.hypothesis:
        body["hypothesis"] = form.hypothesis
    if form.weights and form.weights != was.weights:
        body["weights"] = {
            name: _number(w or "0", f"the weight of {name}") for name, w in form.weights.items()
        }
    if form.min_samples != was.min_samples:
        body["min_samples"] = int(_number(form.min_samples, "the minimum samples", whole=True))
    if form.max_duration_days != was.max_duration_days:
        if not form.max_duration_days:
            # PATCH has no way to remove it (a field left out is "unchanged").
            raise ValidationError(
                "the maximum duration cannot be removed once set: give a number of days "
                f"(it is {was.max_duration_days})"
            )
        body["max_duration_days"] = int(
            _number(form.max_duration_days, "the maximum duration in days", whole=True)
        )
    if _lines(form.guardrails) != _lines(was.guardrails):
        body["guardrails"] = _lines(form.guardrails)
    if form.auto_promote != was.auto_promote:
        body["auto_promote"] = form.auto_promote
    if form.source != was.source:
        body["source"] = form.source
    if _editable_primary_metric() and form.primary_metric != was.primary_metric:
        body["primary_metric"] = form.primary_metric
    return parse(ExperimentUpdate, body)
