"""How a test case's expected stdout is compared with what the program printed."""

from __future__ import annotations

import math
from collections.abc import Callable

from .models import Compare


def _exact(actual: str, expected: str, tolerance: float) -> bool:
    return actual == expected


def _trim_lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _trim(actual: str, expected: str, tolerance: float) -> bool:
    """Ignore trailing whitespace on each line and trailing blank lines."""
    return _trim_lines(actual) == _trim_lines(expected)


def _tokens(actual: str, expected: str, tolerance: float) -> bool:
    return actual.split() == expected.split()


def _float(actual: str, expected: str, tolerance: float) -> bool:
    """Tokens must match; tokens that are both numbers may differ by `tolerance`,
    absolute or relative to the expected value."""
    got, want = actual.split(), expected.split()
    if len(got) != len(want):
        return False
    for a, e in zip(got, want, strict=False):
        if a == e:
            continue
        try:
            x, y = float(a), float(e)
        except ValueError:
            return False
        if math.isnan(x) or math.isnan(y):
            return False
        if not math.isclose(x, y, rel_tol=tolerance, abs_tol=tolerance):
            return False
    return True


COMPARATORS: dict[str, Callable[[str, str, float], bool]] = {
    "exact": _exact,
    "trim": _trim,
    "tokens": _tokens,
    "float": _float,
}


def matches(actual: str, expected: str, mode: Compare, tolerance: float = 1e-6) -> bool:
    return COMPARATORS[mode](actual, expected, tolerance)
