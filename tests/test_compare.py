"""Test-case comparison modes."""

from __future__ import annotations

import pytest

from codering_x.compare import matches


@pytest.mark.parametrize(
    ("mode", "actual", "expected", "ok"),
    [
        ("exact", "4\n", "4\n", True),
        ("exact", "4", "4\n", False),
        ("trim", "4  \n\n\n", "4\n", True),
        ("trim", "a \nb\n", "a\nb", True),
        ("trim", " 4\n", "4\n", False),  # leading whitespace still counts
        ("tokens", "1  2\n3", "1 2 3\n", True),
        ("tokens", "1 2", "1 2 3", False),
        ("float", "0.30000000000000004\n", "0.3", True),
        ("float", "0.31", "0.3", False),
        ("float", "1e9 x", "1000000000.0000001 x", True),
        ("float", "nan", "nan", True),  # identical tokens match before parsing
        ("float", "nan", "0", False),
        ("float", "abc", "abd", False),
    ],
)
def test_modes(mode, actual, expected, ok):
    assert matches(actual, expected, mode) is ok
