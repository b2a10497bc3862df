"""The experiments page (seed 004): stat cards, the table, the detail drawer, and the
lifecycle buttons (the New and Edit forms are ``experiment_form``'s).

``/experiments?view=NAME`` opens the drawer of one experiment; ``&analysis=1`` shows its
analysis, which the drawer's Analyze button computes (taking any automatic action, as the
REST API's ``analyze`` does).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ablab.contract.experiments import ExperimentPublic
from ablab.contract.results import ExperimentResults
from ablab.domain.lifecycle import Action, ExperimentStatus
from ablab.errors import AblabError, NotFound
from ablab.server.console.confirm import Confirmed, ask_to_confirm
from ablab.server.console.glance import glance
from ablab.server.console.session import ServingWriterForm, Viewer, ViewerDep, safe_next
from ablab.server.console.templating import flash_redirect, render
from ablab.services.analysis.results import experiment_results
from ablab.services.automation.guard import analyze_experiment
from ablab.services.experiments import lifecycle as experiments
from ablab.services.rollouts.traffic_warnings import action_warnings

router = APIRouter(include_in_schema=False)

_ACTIONS = {
    "launch": Action.LAUNCH,
    "stop": Action.STOP,
    "pause": Action.PAUSE,
    "resume": Action.RESUME,
    "archive": Action.ARCHIVE,
}

# What a destructive action does, asked before it is taken (``confirm.ask_to_confirm``).
_CONSEQUENCES = {
    "stop": (
        "Stop {name}",
        "Stopping {name} ends it for good: the SDK and the gateway serve every unit the "
        "control from now on, and it cannot be resumed. Its results stay readable.",
        "To pause instead (and resume later), use Pause.",
    ),
    "archive": (
        "Archive {name}",
        "Archiving {name} files it away: it keeps serving the control (or its promoted "
        "winner) and no action applies to it any more. Its events, results and audit log "
        "are kept.",
        "Archiving cannot be undone.",
    ),
}


@router.get("/experiments")
def experiments_page(
    request: Request, viewer: ViewerDep, view: str | None = None, analysis: bool = False
) -> Response:
    stored = experiments.list_experiments(viewer.ctx)
    found = [ExperimentPublic.from_domain(e) for e in stored]
    created = {e.id: e.created_at for e in stored}
    selected = next((e for e in found if view in (e.id, e.name)), None) if view else None
    read = {e.id: _results(viewer, e) for e in found if e.status in _WITH_RESULTS}
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
            "glances": {key: glance(r) for key, r in read.items() if r is not None},
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


# The statuses whose list row shows a lift, a verdict and the progress (a draft has no data).
_WITH_RESULTS = (
    ExperimentStatus.RUNNING,
    ExperimentStatus.PAUSED,
    ExperimentStatus.STOPPED,
    ExperimentStatus.PROMOTED,
)


def _results(viewer: Viewer, experiment: ExperimentPublic) -> ExperimentResults | None:
    """The experiment's results as its full view reads them, or None when they cannot be
    read yet (no variants, a source not reachable): the row then shows dashes."""
    if not experiment.variants:
        return None
    try:
        found = experiment_results(viewer.ctx, viewer.state.events, experiment.id)
    except AblabError:
        return None
    return ExperimentResults.model_validate(found)


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
    request: Request,
    ref: str,
    action: str,
    *,
    viewer: ServingWriterForm,
    back: Annotated[str, Form(max_length=500)] = "",
    expected_version: Annotated[int | None, Form(ge=1)] = None,
    confirmed: Confirmed = "",
) -> Response:
    """A lifecycle button: taken only if the experiment is still the version the page
    showed (two people pressing Pause and Stop at once: the second is told, not obeyed).
    Stop and archive ask first (``_CONSEQUENCES``)."""
    chosen = _ACTIONS.get(action)
    target = safe_next(back or None)
    if chosen is None:
        return flash_redirect(target, f"unknown action {action!r}", "error")
    if action in _CONSEQUENCES and confirmed != "yes":
        title, consequence, undo = (text.format(name=ref) for text in _CONSEQUENCES[action])
        fields = {"back": target}
        if expected_version is not None:
            fields["expected_version"] = str(expected_version)
        return ask_to_confirm(
            request, viewer, title=title, consequence=consequence, undo=undo,
            button=title, back=target, fields=fields,
        )  # fmt: skip
    try:
        changed = experiments.transition(viewer.ctx, ref, chosen, expected_version=expected_version)
    except NotFound as exc:
        return flash_redirect("/experiments", exc.message, "error")
    except AblabError as exc:
        return flash_redirect(target, exc.message, "error")
    said = " ".join(
        [
            f"{changed.name} is {changed.status.value}.",
            *action_warnings(viewer.ctx, changed, chosen),
        ]
    )
    return flash_redirect(target, said)
