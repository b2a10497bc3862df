"""The ruleset an SDK assigns from without asking the server (``GET /v1/sdk/config``).

One :class:`~ablab.assignment.rules.ExperimentRules` per experiment that is not a draft:
the same rules the server assigns by, so an SDK and the server give a unit the same answer.
"""

from __future__ import annotations

from ablab.assignment import ExperimentRules
from ablab.domain.lifecycle import ExperimentStatus
from ablab.domain.rollouts import Rollout
from ablab.services.assignment.assign import rules_of
from ablab.services.ports import MetadataSession

__all__ = ["sdk_ruleset"]


def sdk_ruleset(session: MetadataSession, project_id: str) -> list[ExperimentRules]:
    """The rules of the project's experiments that are not drafts, by name."""
    experiments = [
        e for e in session.list_experiments(project_id) if e.status is not ExperimentStatus.DRAFT
    ]
    rollouts: dict[str, list[Rollout]] = {}
    rules = []
    for experiment in sorted(experiments, key=lambda e: e.name):
        model_rollouts = None
        if experiment.model is not None:
            if experiment.model not in rollouts:
                rollouts[experiment.model] = session.list_rollouts(project_id, experiment.model)
            model_rollouts = rollouts[experiment.model]
        rules.append(rules_of(session, experiment, model_rollouts))
    return rules
