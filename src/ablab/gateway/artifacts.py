"""Loading in-process models (files, callables, MLflow models) as the operator allows.

:func:`load_artifact` asks the policy first (:mod:`ablab.services.access.artifact_access`):
nothing is opened, imported or unpickled for an artifact it refuses. Then:

* joblib and pickle files load with joblib (``pip install 'ablab[joblib]'``); they run
  code when loaded, which is why only the operator's folders may hold them.
* skops files load with an explicit list of trusted types: skops's own (every
  scikit-learn estimator, the loss, link and binning objects they hold, numpy's dtypes,
  ufuncs and random generators, scipy's sparse matrices and special functions) and the
  operator's ``ABLAB_SKOPS_TRUSTED_TYPES``. A file holding any other type is refused,
  naming those types.
* ``module:attribute`` imports the module only when its prefix is allowed, and each step
  of the attribute path must stay in allowed modules (an allowed module that imported
  ``os`` does not lead to ``os.system``).
* ``models:/...`` and ``runs:/...`` load from the MLflow tracking server and registry the
  operator named (:mod:`ablab.gateway.mlflow_source`, ``pip install 'ablab[mlflow]'``).
"""

from __future__ import annotations

import importlib
import types
from pathlib import Path
from typing import Any

from ablab.domain.models import ArtifactKind
from ablab.domain.trust import ArtifactPolicy
from ablab.errors import ValidationError
from ablab.extras import MissingExtra, needs_extra
from ablab.services.access.artifact_access import check_artifact

__all__ = ["load_artifact"]

# What a step of ``module:attribute`` may not reach outside the allowed modules: code.
_CODE = (
    types.ModuleType,
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
)


def load_artifact(uri: str, policy: ArtifactPolicy) -> Any:
    """The model that ``uri`` names, if ``policy`` lets it load.

    Raises:
        ValidationError: the policy refuses it, it is missing or cannot be loaded, the skops
            file holds an untrusted type, or MLflow does not have the model.
        MissingExtra: the package that loads it (joblib, skops, MLflow) is not installed.
    """
    location = check_artifact(policy, uri)
    if location.kind is ArtifactKind.CALLABLE:
        return _load_callable(location.uri, policy)
    if location.kind is ArtifactKind.MLFLOW:
        return _load_mlflow(location.uri, policy)
    path = Path(location.uri)
    if path.suffix.lower() == ".skops":
        return _load_skops(uri, path, policy.skops_trusted_types)
    with needs_extra(
        "joblib",
        feature="a joblib or pickle model file",
        package="joblib",
        details={"field": "artifact", "artifact": uri},
    ):
        import joblib  # noqa: PLC0415 - the optional extra ablab[joblib], loaded with the artifact that needs it
    try:
        return joblib.load(path)
    except Exception as exc:  # unpickling a broken file raises anything at all
        raise _cannot_load(uri, f"{type(exc).__name__}: {exc}") from None


def _load_callable(uri: str, policy: ArtifactPolicy) -> Any:
    module_name, _, attribute = uri.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
    except Exception as exc:  # the module's own code failed, or it is absent
        raise _cannot_load(uri, f"{type(exc).__name__}: {exc}") from None
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise _cannot_load(uri, f"no attribute {part!r}") from None
        if not isinstance(found, _CODE):
            continue  # an object the allowed module made (a fitted estimator)
        home = found.__name__ if isinstance(found, types.ModuleType) else found.__module__
        if not (home and policy.allows_module(home)):
            raise ValidationError(
                f"artifact {uri!r} leads to {home or 'built-in code'}, outside the modules "
                "this server loads models from (ABLAB_ARTIFACT_MODULES)",
                details={"field": "artifact", "artifact": uri},
            )
    return found


def _load_skops(uri: str, path: Path, extra_trusted: tuple[str, ...]) -> Any:
    with needs_extra(
        "skops",
        feature="a .skops model file",
        package="skops",
        details={"field": "artifact", "artifact": uri},
    ):
        import skops.io  # noqa: PLC0415 - the optional extra ablab[skops], loaded with the artifact that needs it
    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except Exception as exc:  # not a zip, or not a skops file
        raise _cannot_load(uri, f"{type(exc).__name__}: {exc}") from None
    refused = sorted(set(untrusted) - set(extra_trusted))
    if refused:
        raise ValidationError(
            f"the skops file {uri!r} holds types ablab does not trust: {', '.join(refused)} "
            "(an operator who reviewed them can add them to ABLAB_SKOPS_TRUSTED_TYPES)",
            details={"field": "artifact", "artifact": uri, "untrusted_types": refused},
        )
    try:
        return skops.io.load(path, trusted=list(extra_trusted))
    except Exception as exc:
        raise _cannot_load(uri, f"{type(exc).__name__}: {exc}") from None


def _load_mlflow(uri: str, policy: ArtifactPolicy) -> Any:
    from ablab.gateway.mlflow_source import load_mlflow_model  # noqa: PLC0415 - an optional library, loaded with the artifact that needs it

    tracking, registry = policy.mlflow_tracking_uri, policy.mlflow_registry_uri
    try:
        return load_mlflow_model(uri, tracking, registry)
    except MissingExtra:
        raise
    except Exception as exc:  # MLflow's errors, and its stores' (SQLAlchemy, HTTP, files)
        problem = f"{type(exc).__name__}: {exc}"
        for secret in (tracking, registry):
            if secret:  # a store URI may carry a password: never echo it
                problem = problem.replace(secret, "<MLflow store>")
        raise _cannot_load(uri, problem) from None


def _cannot_load(uri: str, problem: str) -> ValidationError:
    first_line = problem.strip().splitlines()[0] if problem.strip() else problem
    return ValidationError(
        f"cannot load {uri!r}: {first_line[:300]}",
        details={"field": "artifact", "artifact": uri},
    )
