"""Use cases for models, model versions and device groups."""

from __future__ import annotations

from ablab.domain.experiments import validate_name
from ablab.domain.groups import DeviceGroup, validate_group_definition
from ablab.domain.ids import new_id
from ablab.domain.models import BackendKind, Model, ModelVersion, validate_backend
from ablab.domain.specs import GroupSpec, ModelVersionSpec
from ablab.errors import Conflict, NotFound, ValidationError
from ablab.services.access.artifact_access import check_artifact
from ablab.services.access.audit import record
from ablab.services.access.outbound import check_url
from ablab.services.context import Context
from ablab.services.ports import MetadataSession

__all__ = [
    "create_group",
    "get_group",
    "get_model",
    "list_groups",
    "list_models",
    "register_model_version",
]


def register_model_version(
    ctx: Context, spec: ModelVersionSpec
) -> tuple[Model, list[ModelVersion]]:
    """Register ``spec.model_id``/``spec.version``, creating the model on its first version.

    A local artifact path is checked and stored absolute, so the server finds it from any
    working directory. Both are checked against ``ctx.trust``: an artifact must be one the
    operator lets the server load, an endpoint's host one it may call (as far as the URL
    alone tells; the gateway checks the resolved addresses on every connection).

    Raises:
        ValidationError: not exactly one of endpoint and artifact, a malformed one, or one
            the policy refuses (nothing is written).
        Conflict: the version is already registered.
    """
    validate_name(spec.model_id, "model name")
    validate_name(spec.version, "version")
    if (spec.endpoint is None) == (spec.artifact is None):
        raise ValidationError("give exactly one of --endpoint URL and --artifact PATH")
    if spec.endpoint is not None:
        backend, uri = BackendKind.ENDPOINT, validate_backend(BackendKind.ENDPOINT, spec.endpoint)
        check_url(ctx.trust.outbound, uri, "endpoint")
    else:
        assert spec.artifact is not None
        backend = BackendKind.ARTIFACT
        uri = check_artifact(ctx.trust.artifacts, spec.artifact).uri
    now = ctx.clock()
    with ctx.store.session() as session:
        model = session.get_model(ctx.project_id, spec.model_id)
        if model is None:
            model = Model(
                id=new_id("mdl"),
                project_id=ctx.project_id,
                name=spec.model_id,
                created_at=now,
                description=spec.description,
            )
            try:
                session.add_model(model)
                record(ctx, session, "create", "model", model.id, after={"name": model.name})
            except Conflict:
                # Another request registered the model's first version meanwhile: add to it.
                model = session.get_model(ctx.project_id, spec.model_id)
                if model is None:
                    raise
        if session.get_model_version(model.id, spec.version) is not None:
            raise Conflict(
                f"model {spec.model_id!r} already has a version {spec.version!r}",
                details={"model": spec.model_id, "version": spec.version},
            )
        version = ModelVersion(
            id=new_id("mdv"),
            model_id=model.id,
            version=spec.version,
            backend=backend,
            backend_uri=uri,
            created_at=now,
        )
        session.add_model_version(version)
        record(
            ctx,
            session,
            "register_version",
            "model",
            model.id,
            after={"version": version.version, "backend": backend.value, "uri": uri},
        )
        return model, session.list_model_versions(model.id)


def require_model(session: MetadataSession, ctx: Context, name: str) -> Model:
    model = session.get_model(ctx.project_id, name)
    if model is None:
        raise NotFound(
            f"unknown model {name!r}: register it with `ablab model register`",
            details={"model": name},
        )
    return model


def get_model(ctx: Context, name: str) -> tuple[Model, list[ModelVersion]]:
    with ctx.store.session(read_only=True) as session:
        model = require_model(session, ctx, name)
        return model, session.list_model_versions(model.id)


def list_models(ctx: Context) -> list[tuple[Model, list[ModelVersion]]]:
    with ctx.store.session(read_only=True) as session:
        return [(m, session.list_model_versions(m.id)) for m in session.list_models(ctx.project_id)]


def create_group(ctx: Context, spec: GroupSpec) -> DeviceGroup:
    """Create a device group from a rule or a member list.

    Raises:
        ValidationError: an invalid rule, an empty or blank member list, or both/neither given.
        Conflict: the name is taken.
    """
    validate_name(spec.name, "group name")
    members = frozenset(m.strip() for m in spec.members) if spec.members is not None else None
    if spec.members is not None and any(not m.strip() for m in spec.members):
        raise ValidationError("a device group's member list contains an empty unit id")
    validate_group_definition(spec.rule, members)
    group = DeviceGroup(
        id=new_id("grp"),
        project_id=ctx.project_id,
        name=spec.name,
        created_at=ctx.clock(),
        condition=spec.rule,
        members=members or frozenset(),
        description=spec.description,
    )
    with ctx.store.session() as session:
        if session.get_group(ctx.project_id, spec.name) is not None:
            raise Conflict(f"a device group called {spec.name!r} already exists")
        session.add_group(group)
        record(
            ctx,
            session,
            "create",
            "group",
            group.id,
            after={"name": group.name, "rule": spec.rule, "members": len(group.members)},
        )
    return group


def get_group(ctx: Context, name: str) -> DeviceGroup:
    with ctx.store.session(read_only=True) as session:
        return require_group(session, ctx, name)


def require_group(session: MetadataSession, ctx: Context, name: str) -> DeviceGroup:
    group = session.get_group(ctx.project_id, name)
    if group is None:
        raise NotFound(
            f"unknown device group {name!r}: create it with `ablab group create`",
            details={"group": name},
        )
    return group


def list_groups(ctx: Context) -> list[DeviceGroup]:
    with ctx.store.session(read_only=True) as session:
        return session.list_groups(ctx.project_id)
