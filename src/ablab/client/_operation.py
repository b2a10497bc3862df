"""What an operation of the SDK is: one function, served in-process or sent over HTTP.

An operation is written once, as the function the embedded store runs, decorated with the
REST route that does the same on a server::

    @operation("GET", "/v1/experiments/{ref}")
    def get_experiment(local: Local, ref: str) -> ExperimentPublic:
        return ExperimentPublic.from_domain(lifecycle.get_experiment(local.ctx, ref))

Its signature is the request and its return type the answer. The local backend calls the
function on its stores; the HTTP backend sends the same arguments to the route, by these
rules, and reads the answer back as the return type:

- an argument named in the path fills it (an enum by its value, each one URL-quoted);
- of a GET, the other arguments are the query (``None`` and empty sequences left out);
- of any other method, a schema argument (a pydantic model) is the JSON body, sent with
  only the fields that were set, so the server's defaults apply to the rest; without one,
  the other arguments are the body's fields (``None`` left out), and none is no body;
- an argument marked :class:`LocalOnly` (a Python callable) is never sent.

The rules are checked when an operation is first used, and ``tests/client`` checks each
operation's route against the server's OpenAPI document.
"""

from __future__ import annotations

import enum
import inspect
import string
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar
from urllib.parse import quote

import pydantic

from ablab.errors import ValidationError

if typing.TYPE_CHECKING:
    from ablab.services.context import Context
    from ablab.services.ports import AlertSink, EventStore

__all__ = ["Local", "LocalOnly", "Operation", "Request", "operation"]

P = ParamSpec("P")
Out = TypeVar("Out")


class Local(Protocol):
    """What an operation's function works on: the embedded stores, as this machine's user."""

    @property
    def ctx(self) -> Context: ...

    @property
    def alerts(self) -> AlertSink | None: ...

    def events(self) -> EventStore:
        """The event store, opened on first use."""
        ...


@dataclass(frozen=True, slots=True)
class LocalOnly:
    """Marks an argument that cannot travel (``Annotated[Callback | None, LocalOnly(...)]``).

    The function gets it in-process; over HTTP it is not sent, and a value given is refused
    with ``refusal`` when there is one (else left out: the caller does without it).
    """

    refusal: str | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """An operation's call as HTTP: what the HTTP backend hands to httpx."""

    method: str
    path: str
    params: dict[str, Any]
    json: Any  # None: no body


@dataclass(frozen=True, slots=True)
class _Shape:
    """Where each argument of an operation goes on the wire, read once from its signature."""

    signature: inspect.Signature
    path: tuple[str, ...]
    local_only: dict[str, str | None]
    spec: str | None
    answer: pydantic.TypeAdapter[Any]


class Operation(Generic[P, Out]):
    """One operation: the function the embedded store runs and the route a server serves."""

    def __init__(self, method: str, path: str, serve: Callable[Concatenate[Local, P], Out]):
        self.method = method
        self.path = path
        self.serve = serve
        self.name: str = serve.__name__
        self.__doc__ = serve.__doc__

    def __repr__(self) -> str:
        return f"<Operation {self.name}: {self.method} {self.path}>"

    def request(self, *args: P.args, **kwargs: P.kwargs) -> Request:
        """The HTTP request that asks a server for this operation with these arguments."""
        shape = self.shape
        bound = shape.signature.bind(None, *args, **kwargs)  # None: the Local, not sent
        bound.apply_defaults()
        arguments = dict(list(bound.arguments.items())[1:])
        path = self.path.format_map({name: _in_path(arguments.pop(name)) for name in shape.path})
        for name, refusal in shape.local_only.items():
            if arguments.pop(name) is not None and refusal is not None:
                raise ValidationError(refusal)
        if self.method == "GET":
            return Request(self.method, path, _query(arguments), None)
        if shape.spec is not None:
            spec: pydantic.BaseModel = arguments[shape.spec]
            return Request(self.method, path, {}, spec.model_dump(mode="json", exclude_unset=True))
        body = {name: value for name, value in arguments.items() if value is not None}
        return Request(self.method, path, {}, body or None)

    def answer(self, payload: Any) -> Out:
        """A server's JSON answer read as the function's return type."""
        found: Out = self.shape.answer.validate_python(payload)
        return found

    @cached_property
    def shape(self) -> _Shape:
        """Where the arguments go; a definition these rules cannot send raises TypeError."""
        signature = inspect.signature(self.serve)
        hints = typing.get_type_hints(self.serve, include_extras=True)
        names = list(signature.parameters)[1:]
        path = tuple(f for _, f, _, _ in string.Formatter().parse(self.path) if f)
        if missing := set(path) - set(names):
            raise TypeError(f"{self.name}: the path names {sorted(missing)}, not arguments")
        local_only = {
            name: marker.refusal
            for name in names
            for marker in getattr(hints[name], "__metadata__", ())
            if isinstance(marker, LocalOnly)
        }
        rest = [n for n in names if n not in path and n not in local_only]
        specs = [n for n in rest if _is_schema(hints[n])]
        if specs and (self.method == "GET" or len(rest) > 1):
            raise TypeError(f"{self.name}: a schema argument must be the only body argument")
        return _Shape(
            signature=signature,
            path=path,
            local_only=local_only,
            spec=specs[0] if specs else None,
            answer=pydantic.TypeAdapter(hints["return"]),
        )


def operation(
    method: str, path: str
) -> Callable[[Callable[Concatenate[Local, P], Out]], Operation[P, Out]]:
    """Define an operation by its in-process function; ``method`` and ``path``: its route."""

    def define(serve: Callable[Concatenate[Local, P], Out]) -> Operation[P, Out]:
        return Operation(method, path, serve)

    return define


def _is_schema(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, pydantic.BaseModel)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _in_path(value: Any) -> str:
    # Quoted whole: a name holding "/", "?" or "#" must stay one path segment.
    return quote(str(_plain(value)), safe="")


def _query(arguments: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, value in arguments.items():
        if isinstance(value, Sequence) and not isinstance(value, str):
            if value:
                params[name] = [_plain(v) for v in value]  # repeated: ?prior=a&prior=b
        elif value is not None:
            params[name] = _plain(value)
    return params
