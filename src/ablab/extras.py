"""Optional extras: a feature whose package is not installed says which extra brings it.

``pip install ablab`` gives the server on embedded stores and the SDK. A feature that needs
one more package comes with an extra: ``ablab[postgres]`` (psycopg), ``ablab[joblib]``,
``ablab[jsonschema]``, ``ablab[skops]``, ``ablab[mlflow]``, ``ablab[demo]`` (scikit-learn),
or ``ablab[all]``. The code of such a feature imports its package inside
:func:`needs_extra`, which turns the ImportError into a :class:`MissingExtra` naming the
extra to install::

    with needs_extra("postgres", feature="a PostgreSQL event store", package="psycopg"):
        import psycopg

:class:`MissingExtra` is a :class:`~ablab.errors.ValidationError` (the request or setting
cannot be served by this installation), so each edge maps it as it maps any: the CLI prints
its one line and exits 2, the server answers 422 with ``details.extra``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ablab.errors import ValidationError

__all__ = ["MissingExtra", "needs_extra"]


class MissingExtra(ValidationError):
    """A feature needs a package that is not installed; the message says which extra has it.

    Attributes:
        extra: The extra to install, as in ``pip install 'ablab[extra]'``.
        package: The package the feature needs.
    """

    def __init__(
        self,
        message: str,
        *,
        extra: str,
        package: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.extra = extra
        self.package = package


@contextmanager
def needs_extra(
    extra: str, *, feature: str, package: str, details: Mapping[str, Any] | None = None
) -> Iterator[None]:
    """Raise :class:`MissingExtra` for an ImportError in the block (its imports only).

    Args:
        extra: The extra that installs the package (``postgres`` for ``ablab[postgres]``).
        feature: What needs it, the subject of the message ("a PostgreSQL event store").
        package: The package's name as a person installs it (``psycopg``, ``scikit-learn``).
        details: More context for the error's ``details`` (the field that asked for it).

    Raises:
        MissingExtra: an import in the block failed: the package is absent, or present but
            broken (a missing compiled library); the first line of the reason is kept.

    Examples:
        >>> import importlib
        >>> with needs_extra("demo", feature="ablab demo", package="scikit-learn"):
        ...     importlib.import_module("ablab_no_such_module")
        Traceback (most recent call last):
        ...
        ablab.extras.MissingExtra: ablab demo needs scikit-learn (...): pip install 'ablab[demo]'
    """
    try:
        yield
    except ImportError as exc:
        lines = str(exc).strip().splitlines()
        reason = lines[0] if lines else type(exc).__name__
        install = f"pip install 'ablab[{extra}]'"
        raise MissingExtra(
            f"{feature} needs {package} ({reason}): {install}",
            extra=extra,
            package=package,
            details={**(details or {}), "extra": extra, "package": package, "install": install},
        ) from exc
