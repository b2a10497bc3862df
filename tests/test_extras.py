"""Optional extras: a missing package is named with the extra that installs it."""

from __future__ import annotations

import importlib

import pytest

from ablab.errors import ValidationError
from ablab.extras import MissingExtra, needs_extra


def test_a_missing_module_names_the_extra_to_install() -> None:
    with (
        pytest.raises(MissingExtra) as raised,
        needs_extra("postgres", feature="a PostgreSQL event store", package="psycopg"),
    ):
        importlib.import_module("ablab_no_such_module")
    error = raised.value
    assert error.message == (
        "a PostgreSQL event store needs psycopg (No module named 'ablab_no_such_module'): "
        "pip install 'ablab[postgres]'"
    )
    assert (error.extra, error.package) == ("postgres", "psycopg")
    assert error.details == {
        "extra": "postgres",
        "package": "psycopg",
        "install": "pip install 'ablab[postgres]'",
    }
    # Each edge maps it as a validation error: the CLI's one line and exit 2, the server's 422.
    assert isinstance(error, ValidationError)
    assert error.to_dict()["code"] == "validation_error"
    assert isinstance(error.__cause__, ModuleNotFoundError)


def test_the_callers_details_are_kept_and_a_broken_package_gives_its_first_line() -> None:
    with (
        pytest.raises(MissingExtra) as raised,
        needs_extra("skops", feature="a .skops artifact", package="skops", details={"field": "a"}),
    ):
        raise ImportError("libfoo.so: cannot open shared object file\nmore lines of detail")
    assert raised.value.message == (
        "a .skops artifact needs skops (libfoo.so: cannot open shared object file): "
        "pip install 'ablab[skops]'"
    )
    assert raised.value.details["field"] == "a"


def test_a_block_that_imports_or_raises_otherwise_is_left_alone() -> None:
    with needs_extra("postgres", feature="a PostgreSQL event store", package="psycopg"):
        json = importlib.import_module("json")
    assert json.loads("1") == 1
    with (
        pytest.raises(KeyError),
        needs_extra("postgres", feature="a PostgreSQL event store", package="psycopg"),
    ):
        raise KeyError("not an import")
