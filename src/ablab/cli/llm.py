"""``ablab llm ...``: LLM configuration experiments (seed 002) from the shell.

A baseline configuration runs over a fixed task set; each variant changes one parameter of
one inference step, from the baseline or from another variant, and is compared with it.
"""

from __future__ import annotations

import json
import os
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.tree import Tree

from ablab.cli.output import OutputFormat, OutputOption, TableColumn, console, emit, new_table
from ablab.cli.state import client_of
from ablab.client import Client
from ablab.contract.llm import LlmExperimentPublic, LlmResults, LlmTaskPublic, LlmVariantResult
from ablab.errors import ValidationError
from ablab.llm.typed import settings_from_pairs, text_or_json, typed_value

app = typer.Typer(help="LLM configuration experiments: baseline, variants, results.",
                  no_args_is_help=True)  # fmt: skip
task_app = typer.Typer(help="The tasks experiments run.", no_args_is_help=True)
app.add_typer(task_app, name="task")

NameArg = Annotated[str, typer.Argument(help="The experiment's name or id.")]


@task_app.command("create")
def task_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The task's name.")],
    input_: Annotated[
        str,
        typer.Option("--input", help="The task's input: a JSON object, array or string, or text."),
    ],
    evaluator: Annotated[
        list[str],
        typer.Option(help='How to judge it, as JSON: {"kind": "exact_match"}; repeatable.'),
    ],
    expected: Annotated[
        str | None, typer.Option(help="The expected output: JSON as for --input, or text.")
    ] = None,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Create a task: an input, what is expected, and how an output is judged."""
    try:
        evaluators = [json.loads(e) for e in evaluator]
    except ValueError as exc:
        raise ValidationError(f"--evaluator must be JSON: {exc}") from None
    created = client_of(ctx).llm.create_task(
        name,
        input=text_or_json(input_),
        expected_output=text_or_json(expected) if expected is not None else None,
        evaluators=evaluators,
    )
    emit(output, created, f"Created task {created.name} ({len(created.evaluators)} evaluators)")


@task_app.command("list")
def task_list(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    """List the project's tasks."""
    found = client_of(ctx).llm.tasks()
    emit(output, found, _render_tasks)


def _render_tasks(found: list[LlmTaskPublic]) -> None:
    table = new_table("Task", "Input", "Expected", "Evaluators")
    for task in found:
        kinds = ", ".join(str(e["kind"]) for e in task.evaluators)
        table.add_row(
            task.name, json.dumps(task.input)[:60], json.dumps(task.expected_output)[:40], kinds
        )
    console.print(table)


@app.command()
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The experiment's name.")],
    step: Annotated[
        list[str], typer.Option(help="An inference step in scope (external_id); repeatable.")
    ],
    task: Annotated[list[str] | None, typer.Option(help="A task to run; repeatable.")] = None,
    baseline: Annotated[
        list[str] | None, typer.Option(help="The baseline's step.parameter=value; repeatable.")
    ] = None,
    trials: Annotated[int, typer.Option(help="Runs of each task per variant.")] = 1,
    concurrency: Annotated[int, typer.Option(help="Task runs in flight at once.")] = 8,
    webhook: Annotated[str | None, typer.Option(help="Your application's webhook URL.")] = None,
    secret_env: Annotated[
        str, typer.Option(help="Environment variable holding the webhook's signing secret.")
    ] = "ABLAB_LLM_WEBHOOK_SECRET",
    description: Annotated[str, typer.Option(help="The hypothesis, what you expect.")] = "",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Create an experiment; with tasks it waits for its baseline run."""
    secret = os.environ.get(secret_env) if webhook else None
    if webhook and not secret:
        raise ValidationError(f"set {secret_env} to the webhook's signing secret (16+ characters)")
    created = client_of(ctx).llm.create(
        name,
        steps=step,
        tasks=task or [],
        baseline=settings_from_pairs(baseline or []),
        trials=trials,
        concurrency=concurrency,
        webhook_url=webhook,
        webhook_secret=secret,
        description=description,
    )
    _show(created, output)


@app.command("list")
def list_(ctx: typer.Context, output: OutputOption = OutputFormat.TABLE) -> None:
    """List the project's LLM experiments."""
    emit(output, client_of(ctx).llm.list(), _render_list)


def _render_list(found: list[LlmExperimentPublic]) -> None:
    table = new_table("Experiment", "Status", "Steps", "Tasks", "Variants", "Trials")
    for e in found:
        table.add_row(e.name, e.status.value, ", ".join(e.steps), str(len(e.tasks)),
                      str(len(e.variants)), str(e.trials))  # fmt: skip
    console.print(table)


@app.command()
def show(ctx: typer.Context, name: NameArg, output: OutputOption = OutputFormat.TABLE) -> None:
    """Show an experiment: its status, baseline and variant tree with merged configs."""
    _show(client_of(ctx).llm.get(name), output)


@app.command()
def tasks(
    ctx: typer.Context,
    name: NameArg,
    task: Annotated[list[str], typer.Argument(help="The tasks, by name or id.")],
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Choose the task set (until the baseline starts)."""
    _show(client_of(ctx).llm.select_tasks(name, task), output)


@app.command("baseline")
def set_baseline(
    ctx: typer.Context,
    name: NameArg,
    setting: Annotated[list[str], typer.Argument(help="step.parameter=value pairs.")],
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Set the baseline's configuration (until it has run)."""
    _show(client_of(ctx).llm.set_baseline(name, settings_from_pairs(setting)), output)


@app.command()
def variant(
    ctx: typer.Context,
    name: NameArg,
    variant_name: Annotated[str, typer.Argument(help="The new variant's name.")],
    step: Annotated[str, typer.Option(help="The step it changes.")],
    param: Annotated[
        str, typer.Option(help="system, temperature, top_p, max_tokens, model or verbosity.")
    ],
    value: Annotated[str, typer.Option(help="The new value (JSON or text).")],
    parent: Annotated[
        str | None, typer.Option(help="Branch from this variant (default: the baseline).")
    ] = None,
    hypothesis: Annotated[str, typer.Option(help="What you expect it to do.")] = "",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Add a variant that changes one parameter of one step."""
    changed = client_of(ctx).llm.add_variant(
        name, variant_name, step=step, parameter=param, value=typed_value(value), parent=parent,
        hypothesis=hypothesis,
    )  # fmt: skip
    _show(changed, output)


@app.command()
def run(
    ctx: typer.Context,
    name: NameArg,
    variant_name: Annotated[
        str | None, typer.Option("--variant", help="The variant to run (default: the baseline).")
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the run to end.")] = True,
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Run the baseline or a variant over every task, through the experiment's webhook."""
    client = client_of(ctx)
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(f"{name} {variant_name or 'baseline'}", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        done = client.llm.run(name, variant_name, wait=wait, progress=advance)
    emit(output, done, lambda ran: _render_run(client, name, ran))


def _render_run(client: Client, name: str, done: LlmExperimentPublic) -> None:
    console.print(f"{done.name}: {done.status.value}")
    if not done.status.value.startswith("running"):
        _render_results(client.llm.results(name))


@app.command()
def results(ctx: typer.Context, name: NameArg, output: OutputOption = OutputFormat.TABLE) -> None:
    """Pass rates against the baseline, McNemar (Bonferroni across variants) with the
    interval that agrees with it, flaky tasks, and why tasks failed."""
    emit(output, client_of(ctx).llm.results(name), _render_results)


@app.command()
def complete(
    ctx: typer.Context,
    name: NameArg,
    winner: Annotated[
        str | None,
        typer.Option(
            help="The configuration to ship: baseline, or a variant significantly better "
            "than the baseline."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Name a variant that is not significantly better anyway.")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why (required with --force; audited).")] = "",
    output: OutputOption = OutputFormat.TABLE,
) -> None:
    """Mark the testing done, and name the winner."""
    _show(client_of(ctx).llm.complete(name, winner, force=force, reason=reason), output)


@app.command()
def archive(ctx: typer.Context, name: NameArg, output: OutputOption = OutputFormat.TABLE) -> None:
    """Archive the experiment."""
    _show(client_of(ctx).llm.archive(name), output)


def _show(experiment: LlmExperimentPublic, output: OutputFormat) -> None:
    emit(output, experiment, _render_experiment)


def _render_experiment(experiment: LlmExperimentPublic) -> None:
    console.print(f"[bold]{experiment.name}[/bold] {experiment.status.value} · steps "
                  f"{', '.join(experiment.steps)} · {len(experiment.tasks)} tasks × "
                  f"{experiment.trials} trials")  # fmt: skip
    winner = experiment.winner_name()
    if winner is not None:
        forced = " (forced: not significantly better)" if experiment.winner_forced else ""
        console.print(f"Winner: [bold]{winner}[/bold]{forced}")
    root = Tree(f"baseline {json.dumps(experiment.baseline)}")
    nodes: dict[str | None, Tree] = {None: root}
    for v in experiment.variants:  # parents come before their children
        parent = nodes.get(v.parent_id, root)
        nodes[v.id] = parent.add(f"{v.name}: {v.step}.{v.parameter.value} = {json.dumps(v.value)}")
    console.print(root)


# Failed tasks listed per configuration under the results table; the JSON has them all.
_REASONS_SHOWN = 10


def _render_results(found: LlmResults) -> None:
    # A variant's name may hold spaces ("hot writer"): each is kept on one line.
    table = new_table("Variant", "Pass rate", "vs baseline", "Tasks passed", "Flaky", "Errors",
                      "p50 latency", "Tokens", "Cost", "Completed",
                      names=[row.name for row in found.variants])  # fmt: skip
    for row in found.variants:
        table.add_row(
            row.name,
            f"{row.pass_rate:.1%}" if row.pass_rate is not None else "-",
            f"{row.pass_rate_vs_baseline:+.1%}" if row.pass_rate_vs_baseline is not None else "-",
            f"{row.tasks_passed}/{row.tasks_total}",
            str(row.flaky_tasks),
            str(row.errors),
            f"{row.latency_p50_ms:,.0f} ms" if row.latency_p50_ms is not None else "-",
            f"{row.total_tokens:,}" if row.total_tokens is not None else "-",
            f"${row.cost_usd:,.4f}" if row.cost_usd is not None else "-",
            row.completed_at.strftime("%Y-%m-%d %H:%M") if row.completed_at else "-",
        )
    console.print(table)
    compared = [r for r in found.variants if r.mcnemar and r.mcnemar.adjusted_p_value is not None]
    if compared:
        _render_verdicts(found, compared)
    winner = found.experiment.winner_name()
    if winner is not None:
        forced = " (forced: not significantly better)" if found.experiment.winner_forced else ""
        console.print(f"Winner: [bold]{winner}[/bold]{forced}")
    for row in found.variants:
        failed = [t for t in row.tasks if t.reason is not None]
        for task in failed[:_REASONS_SHOWN]:
            console.print(f"{row.name} · {task.name} ({task.passes}/{task.trials} passed): "
                          f"{task.reason}", markup=False, highlight=False)  # fmt: skip
        if len(failed) > _REASONS_SHOWN:
            console.print(f"{row.name} · and {len(failed) - _REASONS_SHOWN} more failed tasks")


def _interval(bounds: tuple[float | None, float | None]) -> str:
    low, high = bounds
    return f"[{low:+.1%}, {high:+.1%}]" if low is not None and high is not None else "-"


def _render_verdicts(found: LlmResults, compared: list[LlmVariantResult]) -> None:
    """Each variant against the baseline, task by task: the adjusted p-value, the interval
    from the same test and the verdict they agree on, in a table of their own."""
    family = found.comparisons
    confidence = 1 - found.alpha / family
    console.print(
        f"Against the baseline, task by task: McNemar's score test and Tango's interval of "
        f"the difference in task pass rate, which come from the same test, Bonferroni-adjusted "
        f"for {family} variant(s) (p × {family}, {confidence:.1%} intervals; the unadjusted "
        "ones are in --output json).",
        highlight=False,
    )
    table = new_table(
        "Variant",
        "Tasks won/lost",
        "p (adjusted)",
        TableColumn(f"{confidence:.1%} CI", whole=True),  # an interval cut in two misleads
        "Verdict",
        names=[row.name for row in compared],
    )
    for row in compared:
        test = row.mcnemar
        assert test is not None
        assert test.adjusted_p_value is not None
        if not test.significant:
            verdict = "no difference shown"
        elif (test.difference or 0.0) > 0:
            verdict = "better"
        else:
            verdict = "worse"
        table.add_row(
            row.name,
            f"{test.only_variant_passed}/{test.only_baseline_passed}",
            f"{test.adjusted_p_value:.4f}",
            _interval(test.adjusted_ci),
            verdict,
        )
    console.print(table)
