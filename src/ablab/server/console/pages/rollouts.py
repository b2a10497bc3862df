"""The rollouts page: each rollout's steps and current share, the evidence of its current
step, its step history (from the audit log: who or what moved it, when, and the evidence it
moved on) with a chart of its share, and the advance / pause / resume / rollback buttons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from markupsafe import Markup

from ablab.contract.rollouts import RolloutCheckPublic, RolloutPublic
from ablab.domain.audit import AuditEntry
from ablab.domain.rollouts import ACTIVE, Rollout, RolloutAction
from ablab.errors import AblabError
from ablab.server.console.charts import Point, Series, line_chart
from ablab.server.console.confirm import Confirmed, ask_to_confirm
from ablab.server.console.session import ServingWriterForm, ViewerDep
from ablab.server.console.templating import flash_redirect, render
from ablab.services.access import audit
from ablab.services.context import utc_now
from ablab.services.rollouts.steps import act_on_rollout, check_rollout, list_rollouts

router = APIRouter(include_in_schema=False)


@router.get("/rollouts")
def rollouts_page(request: Request, viewer: ViewerDep) -> Response:
    rows: list[tuple[RolloutPublic, RolloutCheckPublic | None, str | None]] = []
    histories: dict[str, list[StepChange]] = {}
    charts: dict[str, Markup] = {}
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
        histories[rollout.id] = _history(audit.list_audit(viewer.ctx, object_id=rollout.id))
        charts[rollout.id] = _share_chart(rollout, histories[rollout.id], utc_now())
    return render(
        request,
        "rollouts.html",
        {"viewer": viewer, "rollouts": rows, "revisions": revisions, "histories": histories,
         "charts": charts},
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class StepChange:
    """One move of a rollout, as its audit entry tells it."""

    at: datetime
    actor: str
    action: str
    share_before: float | None
    share_after: float | None
    status: str
    evidence: str


def _history(entries: list[AuditEntry]) -> list[StepChange]:
    """The rollout's moves, oldest first: the start, each advance, pause, resume, rollback
    and completion, with the reason it was recorded with (the step check's evidence when
    the monitor moved it)."""
    changes = []
    for entry in sorted(entries, key=lambda e: e.at):
        before, after = entry.before or {}, entry.after or {}
        changes.append(
            StepChange(
                at=entry.at,
                actor=entry.actor,
                action=entry.action,
                share_before=_share(before),
                share_after=_share(after),
                status=str(after.get("status", "")),
                evidence=str(after.get("reason", "")),
            )
        )
    return changes


def _share(snapshot: Mapping[str, Any]) -> float | None:
    value = snapshot.get("share")
    return float(value) if isinstance(value, int | float) else None


def _share_chart(rollout: Rollout, history: list[StepChange], now: datetime) -> Markup:
    """The share of units on the new version over time: a step line through each move."""
    points: list[Point] = []
    for change in history:
        if change.share_before is not None and points:
            points.append((change.at, change.share_before / 100))
        if change.share_after is not None:
            points.append((change.at, change.share_after / 100))
    if rollout.status in ACTIVE:
        points.append((now, rollout.share / 100))
    return line_chart(
        f"Share of units on {rollout.model} {rollout.version}",
        [Series(rollout.version, points, colour=1)],
        kind="share",
        zero_line=True,  # the axis starts at 0%, so a step from 10% to 25% looks its size
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
