"""Python evaluator functions for the evaluator tests, named as ``module:attr``."""

from __future__ import annotations

from typing import Any

NOT_CALLABLE = 3


def is_polite(*, output: Any, expected: Any, task_input: Any) -> bool:
    return "please" in str(output).lower()


def with_detail(*, output: Any, expected: Any, task_input: Any) -> tuple[bool, str]:
    return output == expected, f"compared {output!r} with {expected!r}"


def graded(*, output: Any, expected: Any, task_input: Any) -> dict[str, Any]:
    score = len(str(output)) / 10
    return {"pass": score >= 0.5, "score": score, "reason": f"{len(str(output))} characters"}


def echo(*, output: Any, expected: Any, task_input: Any) -> tuple[bool, str]:
    """Passes and repeats what it was given, to check the keyword arguments."""
    return True, repr({"output": output, "expected": expected, "task_input": task_input})


def broken(*, output: Any, expected: Any, task_input: Any) -> bool:
    raise RuntimeError("the evaluator has a bug")


def wrong_shape(*, output: Any, expected: Any, task_input: Any) -> str:
    return "yes"


class Namespace:
    @staticmethod
    def nested(*, output: Any, expected: Any, task_input: Any) -> bool:
        return bool(output)
