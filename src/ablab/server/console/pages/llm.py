"""The LLM experiments pages: the list, and one experiment's variant tree with its results."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ablab.contract.llm import LlmExperimentPublic, LlmResults, LlmVariantResult
from ablab.errors import NotFound
from ablab.server.console.session import ViewerDep
from ablab.server.console.templating import render
from ablab.services.llm import experiments as llm
from ablab.services.llm.results import llm_results

router = APIRouter(include_in_schema=False)


@router.get("/llm")
def llm_page(request: Request, viewer: ViewerDep) -> Response:
    found = [
        LlmExperimentPublic.from_domain(e, llm.progress_of(viewer.ctx, e))
        for e in llm.list_llm_experiments(viewer.ctx)
    ]
    return render(request, "llm.html", {"viewer": viewer, "experiments": found})


@router.get("/llm/{ref}")
def llm_experiment_page(request: Request, viewer: ViewerDep, ref: str) -> Response:
    try:
        results = LlmResults.from_domain(llm_results(viewer.ctx, ref))
    except NotFound as exc:
        return render(request, "message.html", {"viewer": viewer, "message": exc.message}, 404)
    experiment = results.experiment
    by_variant: dict[str, LlmVariantResult] = {r.variant: r for r in results.variants}
    children: dict[str | None, list[str]] = {}
    for v in experiment.variants:
        children.setdefault(v.parent_id, []).append(v.id)
    # The tree, depth first from the baseline: (depth, variant) in display order.
    order: list[tuple[int, str]] = []

    def walk(parent: str | None, depth: int) -> None:
        for child in children.get(parent, []):
            order.append((depth, child))
            walk(child, depth + 1)

    walk(None, 1)
    return render(
        request,
        "llm_experiment.html",
        {
            "viewer": viewer,
            "experiment": experiment,
            "results": results,
            "by_variant": by_variant,
            "variants": {v.id: v for v in experiment.variants},
            "tree": order,
            # The adjusted intervals' confidence, Bonferroni over the variants compared.
            "confidence": 1 - results.alpha / max(results.comparisons, 1),
        },
    )
