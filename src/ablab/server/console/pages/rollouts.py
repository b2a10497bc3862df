"""The rollouts page: each rollout's steps and current share, the evidence of its current
step, and the advance / pause / resume / rollback buttons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from ablab.contract.rollouts import RolloutCheckPublic, RolloutPublic
from ablab.domain.rollouts import ACTIVE, RolloutAction
from ablab.errors import AblabError
from ablab.server.console.confirm import Confirmed, ask_to_confirm
from ablab.server.console.session import ServingWriterForm, ViewerDep
from ablab.server.console.templating import flash_redirect, render
from ablab.services.rollouts.steps import act_on_rollout, check_rollout, list_rollouts

router = APIRouter(include_in_schema=False)


@router.get("/rollouts")
def rollouts_page(request: Request, viewer: ViewerDep) -> Response:
    rows: list[tuple[RolloutPublic, RolloutCheckPublic | None, str | None]] = []
    found = list_rollouts(viewer.ctx)
    # Each button acts only on the rollout as the page showed it (two people pressing
    # Advance on one page move it one step, not two).
    revisions = {rollout.id: rollout.revision for rollout in found}
    for rollout in found:
        check, problem = None, None
        if rollout.status in ACTIVE:
            try:
                checked = check_rollout(viewer.ctx, viewer.state.events, rollout.id)
                check = RolloutCheckPublic.model_validate(checked)
            except AblabError as exc:
                problem = exc.message
        rows.append((RolloutPublic.from_domain(rollout), check, problem))
    return render(
        request, "rollouts.html", {"viewer": viewer, "rollouts": rows, "revisions": revisions}
    )


@router.post("/rollouts/{rollout_id}/{action}")
def act(
    request: Request,
    rollout_id: str,
    action: str,
    *,
    viewer: ServingWriterForm,
    reason: Annotated[str, Form(max_length=500)] = "",
    expected_revision: Annotated[int | None, Form(ge=1)] = None,
    confirmed: Confirmed = "",
) -> Response:
    """A rollout button, on the rollout as the page showed it; Roll back asks first."""
    try:
        chosen = RolloutAction(action)
    except ValueError:
        return flash_redirect("/rollouts", f"unknown rollout action {action!r}", "error")
    if chosen is RolloutAction.ROLLBACK and confirmed != "yes":
        fields = {"reason": reason}
        if expected_revision is not None:
            fields["expected_revision"] = str(expected_revision)
        return ask_to_confirm(
            request,
            viewer,
            title="Roll back this rollout",
            consequence="Rolling back returns every unit to the previous version at once: "
            "the new version stops serving, and the rollout ends as rolled back.",
            undo="To try the new version again, promote it again (a new rollout from its "
            "first step).",
            button="Roll back",
            back="/rollouts",
            fields=fields,
        )
    try:
        changed = act_on_rollout(
            viewer.ctx, rollout_id, chosen, reason.strip(), expected_revision=expected_revision
        )
    except AblabError as exc:
        return flash_redirect("/rollouts", exc.message, "error")
    return flash_redirect(
        "/rollouts",
        f"{changed.model} {changed.version}: {changed.status.value} at {changed.share:g}%",
    )
