"""MLflow's model registry and runs as a source of in-process models.

``models:/name/version``, ``models:/name@alias`` and ``runs:/run_id/path`` are resolved
here, through an ``MlflowClient`` given the operator's tracking and registry URIs, to
where the model's files are; MLflow then fetches those files and ``mlflow.pyfunc`` loads
them. MLflow's own resolution of such URIs reads its process-wide URIs part of the way
(with MLflow 3.18, ``download_artifacts("models:/...", registry_uri=...)`` still asked
the default store, and created ``./mlflow.db`` doing so), which on a server would read a
store nobody configured.

Needs ``pip install 'ablab[mlflow]'`` (mlflow-skinny, and pandas for ``mlflow.pyfunc``).
MLflow's usage telemetry (a request to its servers, sent on import) is turned off unless
the operator set ``MLFLOW_DISABLE_TELEMETRY`` themselves: ablab reaches no address its
operator did not name.
"""

from __future__ import annotations

import os
from typing import Any

from ablab.extras import needs_extra

__all__ = ["load_mlflow_model"]

_HOPS = 4  # a version's source may itself be a runs:/ or models:/ URI


def load_mlflow_model(uri: str, tracking_uri: str | None, registry_uri: str | None) -> Any:
    """The model at ``uri``, from the given stores (MLflow's defaults where ``None``).

    Raises:
        MissingExtra: MLflow (or pandas, which mlflow.pyfunc needs) is not installed.
        Exception: MLflow's or its stores' errors: an unknown model, version, alias or run.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    with needs_extra(
        "mlflow",
        feature="an MLflow model",
        package="MLflow",
        details={"field": "artifact", "artifact": uri},
    ):
        import mlflow.artifacts  # noqa: PLC0415 - mlflow is the optional extra ablab[mlflow]
        import mlflow.pyfunc  # noqa: PLC0415 - mlflow is the optional extra ablab[mlflow]
        from mlflow import MlflowClient  # noqa: PLC0415 - mlflow is the optional extra ablab[mlflow]

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri or tracking_uri)
    location = uri
    for _ in range(_HOPS):
        if not location.startswith(("models:/", "runs:/")):
            break
        location = _resolve(client, location)
    else:
        raise LookupError(f"{uri} leads through more than {_HOPS} model references")
    local = mlflow.artifacts.download_artifacts(artifact_uri=location, tracking_uri=tracking_uri)
    return mlflow.pyfunc.load_model(local, suppress_warnings=True)


def _resolve(client: Any, uri: str) -> str:
    """One step from a ``models:/`` or ``runs:/`` URI towards the files it names."""
    if uri.startswith("runs:/"):
        run_id, _, path = uri.removeprefix("runs:/").partition("/")
        return _run_location(client, run_id, path)
    reference = uri.removeprefix("models:/")
    if "@" in reference:
        name, _, alias = reference.partition("@")
        version = client.get_model_version_by_alias(name, alias).version
        return str(client.get_model_version_download_uri(name, version))
    name, _, version = reference.partition("/")
    if not version:  # MLflow 3's logged model id, as a version's source names it
        return str(client.get_logged_model(name).artifact_location)
    return str(client.get_model_version_download_uri(name, version))


def _run_location(client: Any, run_id: str, path: str) -> str:
    run = client.get_run(run_id)
    # Since MLflow 3 a model logged in a run is stored apart from the run's artifacts, as a
    # logged model named by the path's first part; other artifacts stay in the run's.
    name, _, rest = path.partition("/")
    if "'" not in name:
        for model in client.search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string=f"name = '{name}'"
        ):
            if model.source_run_id == run_id:
                return str(model.artifact_location).rstrip("/") + (f"/{rest}" if rest else "")
    return f"{run.info.artifact_uri.rstrip('/')}/{path}"
