"""The pairwise comparisons' building blocks: the sign-flip test refuses non-finite
differences, and the compact letter display gives two models a shared letter exactly when their
difference is not significant."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.statistics import (
    PairedComparison,
    compact_letter_columns,
    rank_models,
    sign_flip_test,
)
from pgm.errors import PgmError


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_sign_flip_test_refuses_non_finite_differences(bad):
    d = np.array([0.3, -0.1, bad, 0.2, 0.5])
    with pytest.raises(PgmError, match=r"^differences: expected finite values; found 1 NaN/inf$"):
        sign_flip_test(d, n_resamples=99)


def _comparisons(order: str, significant: set[tuple[str, str]]) -> list[PairedComparison]:
    pairs = [(a, b) for i, a in enumerate(order) for b in order[i + 1 :]]
    return [
        PairedComparison(a, b, 1.0, (0.5, 1.5), 0.1, 0.01, 0.01, 0.01, (a, b) in significant)
        for a, b in pairs
    ]


def _groups(order: str, significant: set[tuple[str, str]]) -> dict[str, str]:
    means = [-float(i) for i in range(len(order))]  # the order given is the rank order
    rows = rank_models(list(order), means, _comparisons(order, significant))
    return {r["model"]: r["group"] for r in rows}


@pytest.mark.parametrize(
    "order, significant, expected",
    [
        (
            "ABC",
            {("A", "B")},
            {"A": "a", "B": "b", "C": "ab"},
        ),  # only A-B differ: C shares a letter with each
        ("ABC", set(), {"A": "a", "B": "a", "C": "a"}),
        ("ABC", {("A", "B"), ("A", "C"), ("B", "C")}, {"A": "a", "B": "b", "C": "c"}),
        (
            "ABCD",
            {("A", "C"), ("A", "D"), ("B", "D"), ("C", "D")},
            {"A": "a", "B": "ab", "C": "b", "D": "c"},
        ),
        ("ABCD", {("A", "D")}, {"A": "a", "B": "ab", "C": "ab", "D": "b"}),
        ("ABCD", {("A", "B"), ("C", "D")}, {"A": "ab", "B": "cd", "C": "ac", "D": "bd"}),
    ],
)
def test_compact_letter_display(order, significant, expected):
    groups = _groups(order, significant)
    assert groups == expected
    for i, a in enumerate(order):  # the defining property, checked pair by pair
        for b in order[i + 1 :]:
            share = bool(set(groups[a]) & set(groups[b]))
            assert share == ((a, b) not in significant), (a, b)


def test_compact_letter_display_property_on_random_patterns():
    rng = np.random.default_rng(0)
    for _ in range(200):
        m = int(rng.integers(2, 7))
        different = [(i, j) for i in range(m) for j in range(i + 1, m) if rng.random() < 0.4]
        columns = compact_letter_columns(m, different)
        for i in range(m):
            assert any(i in c for c in columns)  # every model gets a letter
            for j in range(i + 1, m):
                assert any(i in c and j in c for c in columns) == ((i, j) not in different)
