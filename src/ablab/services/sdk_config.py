"""The ruleset an SDK assigns from without asking the server (``GET /v1/sdk/config``).

Everything the assignment rules need, and nothing more: each experiment's status, salt,
variants with weights and model versions, coverage, target group (its condition, or its
member list), the winner, and whether the plan changed since launch (then an SDK must ask
the server about units it has not assigned itself, whose stored variant may differ); the
experiment's own latest rollout (id, status, share) and the model's rollout in progress
from another experiment (id, share, previous version), which bound who may enter.
"""

from __future__ import annotations

from typing import Any

from ablab.domain.experiments import Experiment
from ablab.domain.rollouts import Rollout
from ablab.services.assignment import split_rollouts
from ablab.services.live_assignment import plan_changed
from ablab.services.ports import MetadataSession

__all__ = ["sdk_ruleset"]


def sdk_ruleset(
    session: MetadataSession, project_id: str, experiments: list[Experiment]
) -> dict[str, Any]:
    rules = []
    rollouts: dict[str, list[Rollout]] = {}
    for experiment in sorted(experiments, key=lambda e: e.name):
        group = session.get_group(project_id, experiment.group) if experiment.group else None
        history = session.list_audit(project_id, object_id=experiment.id, limit=10_000)
        own, governing = None, None
        if experiment.model is not None:
            if experiment.model not in rollouts:
                rollouts[experiment.model] = session.list_rollouts(project_id, experiment.model)
            own, governing = split_rollouts(experiment, rollouts[experiment.model])
        rules.append(
            {
                "id": experiment.id,
                "name": experiment.name,
                "status": experiment.status.value,
                "salt": experiment.salt,
                "coverage": experiment.coverage,
                "winner": experiment.winner,
                "plan_changed": plan_changed(history),
                "variants": [
                    {
                        "name": v.name,
                        "weight": v.weight,
                        "model_version": v.model_version,
                        "is_control": v.is_control,
                    }
                    for v in experiment.variants
                ],
                "group": None
                if group is None
                else {
                    "name": group.name,
                    "condition": dict(group.condition) if group.condition is not None else None,
                    "members": sorted(group.members) if group.condition is None else None,
                },
                "rollout": None
                if own is None
                else {"id": own.id, "status": own.status.value, "share": own.share},
                "governing_rollout": None
                if governing is None
                else {
                    "id": governing.id,
                    "share": governing.share,
                    "previous_version": governing.previous_version,
                },
            }
        )
    return {"experiments": rules}
