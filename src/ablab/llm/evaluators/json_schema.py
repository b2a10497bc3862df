"""The ``json_schema`` evaluator: the output, as JSON, is valid against a JSON Schema.

It is the one evaluator that needs a package beyond ablab's own, jsonschema, which the
``jsonschema`` extra installs (``pip install 'ablab[jsonschema]'``); without it a
specification of this kind is refused with :class:`~ablab.extras.MissingExtra` when it is
parsed, before anything runs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ablab.errors import ValidationError
from ablab.extras import needs_extra
from ablab.llm.evaluators.base import Outcome, known_keys

__all__ = ["json_schema", "parse_json_schema"]


def parse_json_schema(where: str, params: Mapping[str, Any]) -> dict[str, Any]:
    known_keys(where, params, {"schema"})
    schema = params.get("schema")
    if not isinstance(schema, Mapping | bool):
        raise ValidationError(f"{where}: schema must be a JSON Schema object, got {schema!r}")
    plain = dict(schema) if isinstance(schema, Mapping) else schema
    jsonschema = _jsonschema()
    try:
        jsonschema.validators.validator_for(plain).check_schema(plain)
    except jsonschema.exceptions.SchemaError as exc:
        raise ValidationError(
            f"{where}: the schema is not valid JSON Schema ({exc.message})"
        ) from None
    return {"schema": plain}


def json_schema(params: Mapping[str, Any], output: Any, _expected: Any, _input: Any) -> Outcome:
    instance = output
    if isinstance(output, str | bytes):
        try:
            instance = json.loads(output)
        except ValueError as exc:
            return False, None, f"the output is not JSON ({exc})"
    schema = params["schema"]
    jsonschema = _jsonschema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is None:
        return True, None, "valid against the schema"
    path = "/".join(str(part) for part in error.absolute_path)
    return False, None, f"invalid at /{path}: {error.message}"


def _jsonschema() -> Any:  # the jsonschema package, which has no type hints
    with needs_extra("jsonschema", feature="the json_schema evaluator", package="jsonschema"):
        import jsonschema.exceptions  # noqa: PLC0415 - the optional extra ablab[jsonschema]
        import jsonschema.validators  # noqa: PLC0415 - the optional extra ablab[jsonschema]
    return jsonschema
