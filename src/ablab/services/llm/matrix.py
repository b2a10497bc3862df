"""Every task's runs under every configuration: what the experiment page's task x variant
matrix and the side-by-side comparison of one task show (outputs, verdicts, spend).

The results (:mod:`ablab.services.llm.results`) summarise runs; this reads them whole.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ablab.domain.llm_records import BASELINE, LlmExperiment, LlmRun, LlmTask
from ablab.errors import NotFound
from ablab.services.context import Context
from ablab.services.llm.experiments import require_llm_experiment

__all__ = ["Column", "TaskMatrix", "task_matrix"]


@dataclass(frozen=True, slots=True)
class Column:
    """A configuration of the matrix: ``variant`` is baseline or the variant's id."""

    variant: str
    name: str


@dataclass(frozen=True, slots=True)
class TaskMatrix:
    """The experiment's tasks (in its order), the configurations that have runs (the
    baseline first, then the variants in the order they were added), and each task's runs
    under each configuration, by trial."""

    experiment: LlmExperiment
    tasks: tuple[LlmTask, ...]
    columns: tuple[Column, ...]
    runs: dict[tuple[str, str], tuple[LlmRun, ...]]

    def cell(self, task_id: str, variant: str) -> tuple[LlmRun, ...]:
        """The runs of ``task_id`` under ``variant``, by trial (none when it has not run)."""
        return self.runs.get((task_id, variant), ())

    def listed(self, task: str | None = None) -> list[tuple[LlmRun, str, str]]:
        """Every run (of ``task``, by id or name, when given) with its task's and its
        configuration's names: by task in the experiment's order, then configuration, then
        trial.

        Raises:
            NotFound: ``task`` is not one of the experiment's.
        """
        tasks = [self.task(task)] if task is not None else list(self.tasks)
        return [
            (run, chosen.name, column.name)
            for chosen in tasks
            for column in self.columns
            for run in self.cell(chosen.id, column.variant)
        ]

    def task(self, ref: str) -> LlmTask:
        """A task of the experiment by id or name.

        Raises:
            NotFound: the experiment has no such task.
        """
        found = next((t for t in self.tasks if ref in (t.id, t.name)), None)
        if found is None:
            raise NotFound(f"{self.experiment.name!r} has no task {ref!r}", details={"task": ref})
        return found


def task_matrix(ctx: Context, ref: str) -> TaskMatrix:
    """The experiment's runs, task by configuration.

    Raises:
        NotFound: no such experiment.
    """
    with ctx.store.session(read_only=True) as session:
        experiment = require_llm_experiment(session, ctx, ref)
        runs = session.list_llm_runs(experiment.id)
        found = [session.get_llm_task(ctx.project_id, t) for t in experiment.task_ids]
    by_cell: dict[tuple[str, str], list[LlmRun]] = defaultdict(list)
    for run in runs:
        by_cell[(run.task_id, run.variant_id)].append(run)
    ran = {run.variant_id for run in runs}
    names = [(BASELINE, "baseline"), *((v.id, v.name) for v in experiment.variants)]
    return TaskMatrix(
        experiment=experiment,
        tasks=tuple(t for t in found if t is not None),
        columns=tuple(Column(v, name) for v, name in names if v in ran),
        runs={key: tuple(sorted(cell, key=lambda r: r.trial)) for key, cell in by_cell.items()},
    )
