"""Statistics of the comparison report: error rates of the paired test, Holm, bootstrap coverage,
and the ranking's tie groups. Every simulation is seeded, so each test is deterministic; the
tolerances are stated next to the assertions (binomial standard errors of the simulated rates).
"""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.statistics import (
    PairedComparison,
    compare_all,
    compare_paired,
    holm,
    rank_models,
    sign_flip_test,
    summarise_mean,
    wilcoxon_test,
)
from pgm.errors import PgmError

ALPHA = 0.05


def _log_likelihoods(rng, n: int) -> np.ndarray:
    """Per-image log-likelihoods shaped like a model's: a skewed spread across images (some
    digits are much harder) around -100 nats."""
    return -100.0 - rng.gamma(2.0, 5.0, size=n)


def test_model_compared_with_itself_is_never_different():
    rng = np.random.default_rng(0)
    for _ in range(20):
        ll = _log_likelihoods(rng, 200)
        c = compare_paired(
            "m", "m", ll, ll.copy(), n_resamples=999, seed=int(rng.integers(1 << 30))
        )
        assert c.mean_difference_nats == 0.0
        assert c.ci95 == (0.0, 0.0)
        assert c.p_value == 1.0 and c.p_value_wilcoxon == 1.0
    results = compare_all({"a": ll, "b": ll.copy(), "c": ll.copy()}, n_resamples=999)
    assert not any(c.significant for c in results)
    assert all(c.p_value_adjusted == 1.0 for c in results)
    ranking = rank_models(["a", "b", "c"], [ll.mean()] * 3, results)
    assert {r["group"] for r in ranking} == {"a"}
    assert all(r["rank_range"] == [1, 3] for r in ranking)


def test_paired_test_error_rates():
    """200 simulated test sets of 100 images. No difference (the second model's estimate is the
    first's plus symmetric Monte Carlo noise): the rejection rate must stay near alpha; the
    bound 0.05 + 0.045 is three binomial standard errors (sqrt(.05·.95/200) = 0.015) above.
    A planted shift of 0.5 sd of the per-image noise: the power must exceed 0.9 (the
    theoretical power of a paired test at effect size 0.5 and n = 100 is about 0.999)."""
    rng = np.random.default_rng(1)
    n, reps = 100, 200
    null_sign, null_wilcoxon, power = 0, 0, 0
    for r in range(reps):
        ll = _log_likelihoods(rng, n)
        noise = rng.normal(0, 1.0, size=n)
        null_sign += sign_flip_test(noise, n_resamples=999, seed=r) <= ALPHA
        null_wilcoxon += wilcoxon_test(noise) <= ALPHA
        shifted = compare_paired(
            "a", "b", ll + 0.5 + rng.normal(0, 1.0, size=n), ll, n_resamples=999, seed=r
        )
        power += shifted.p_value <= ALPHA
    assert null_sign / reps <= ALPHA + 0.045, null_sign / reps
    assert null_wilcoxon / reps <= ALPHA + 0.045, null_wilcoxon / reps
    assert power / reps >= 0.9, power / reps


def test_sign_flip_p_value_is_valid():
    rng = np.random.default_rng(2)
    with pytest.raises(PgmError, match=r"^differences: expected shape \(N,\) with N >= 2"):
        sign_flip_test(rng.normal(size=(50, 3)), n_resamples=499)  # one pair at a time
    # a Monte Carlo p-value is never below 1 / (R + 1), even for an overwhelming difference
    assert sign_flip_test(
        np.full(50, 3.0) + rng.normal(0, 0.01, 50), n_resamples=499
    ) == pytest.approx(1 / 500)


def test_holm_matches_hand_computation_and_controls_fwer():
    # Holm (1979): sorted p (0.01, 0.02, 0.03, 0.5) times (4, 3, 2, 1), running max, capped at 1
    assert np.allclose(holm([0.03, 0.5, 0.01, 0.02]), [0.06, 0.5, 0.04, 0.06])
    assert np.allclose(holm([0.9, 0.8]), [1.0, 1.0])  # 2 · 0.8 capped at 1, then the running max
    assert np.allclose(holm([0.3, 0.04]), [0.3, 0.08])
    assert holm([]).size == 0
    with pytest.raises(ValueError, match="p_values"):
        holm([0.1, 1.5])
    # family-wise error under the global null: 10 uniform p-values per family, 2000 families;
    # Holm keeps P(any rejection) <= alpha; 0.05 + 0.015 is three standard errors (0.0049) above
    rng = np.random.default_rng(3)
    any_rejected = np.mean([(holm(rng.uniform(size=10)) <= ALPHA).any() for _ in range(2000)])
    assert any_rejected <= ALPHA + 0.015
    # and it is less conservative than nothing: the unadjusted rate is far above alpha
    assert np.mean([(rng.uniform(size=10) <= ALPHA).any() for _ in range(2000)]) > 0.3


def test_bootstrap_interval_coverage_is_close_to_95_percent():
    """400 simulated test sets of 100 skewed per-image values (true mean known): the BCa
    interval must cover it 95% ± 3 standard errors (sqrt(.95·.05/400) = 0.011) of the time."""
    rng = np.random.default_rng(4)
    true_mean = -100.0 - 2.0 * 5.0
    covered = 0
    for r in range(400):
        s = summarise_mean(_log_likelihoods(rng, 100), n_resamples=999, seed=r)
        covered += s.ci95[0] <= true_mean <= s.ci95[1]
        assert s.ci95[0] < s.mean < s.ci95[1]
    assert 0.95 - 0.033 <= covered / 400 <= 0.95 + 0.033, covered / 400


def test_summarise_mean_standard_error_and_errors():
    v = np.arange(10.0)
    s = summarise_mean(v, n_resamples=999)
    assert s.mean == 4.5
    assert s.standard_error == pytest.approx(np.std(v, ddof=1) / np.sqrt(10))
    with pytest.raises(ValueError, match="values: expected a 1-D array"):
        summarise_mean([1.0])
    with pytest.raises(ValueError, match="finite"):
        summarise_mean([1.0, np.nan])
    with pytest.raises(ValueError, match="log_lik_b"):
        compare_paired("a", "b", np.zeros(5), np.zeros(6))


def _comparison(a: str, b: str, significant: bool) -> PairedComparison:
    return PairedComparison(a, b, 1.0, (0.5, 1.5), 0.1, 0.01, 0.01, 0.01, significant)


def test_ranking_groups_and_rank_ranges():
    # means rank a > b > c > d; a~b and b~c tie, a-c, a-d, b-d, c-d significant
    names, means = ["c", "a", "d", "b"], [-3.0, -1.0, -4.0, -2.0]
    sig = {("a", "c"), ("a", "d"), ("b", "d"), ("c", "d")}
    comps = [
        _comparison(x, y, (x, y) in sig)
        for x, y in [("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d")]
    ]
    rows = {r["model"]: r for r in rank_models(names, means, comps)}
    assert [rows[m]["rank"] for m in "abcd"] == [1, 2, 3, 4]
    assert [rows[m]["group"] for m in "abcd"] == ["a", "ab", "b", "c"]
    assert rows["a"]["rank_range"] == [1, 2]
    assert rows["b"]["rank_range"] == [1, 3]
    assert rows["c"]["rank_range"] == [2, 3]
    assert rows["d"]["rank_range"] == [4, 4]


def test_compare_all_orders_pairs_and_adjusts():
    rng = np.random.default_rng(5)
    base = _log_likelihoods(rng, 150)
    lls = {
        "best": base + 2.0 + rng.normal(0, 1, 150),
        "mid": base + rng.normal(0, 1, 150),
        "same": base + rng.normal(0, 1, 150),
    }
    comps = compare_all(lls, n_resamples=1999, seed=0)
    assert [(c.a, c.b) for c in comps] == [("best", "mid"), ("best", "same"), ("mid", "same")]
    assert all(c.p_value_adjusted >= c.p_value for c in comps)
    by_pair = {(c.a, c.b): c for c in comps}
    assert by_pair["best", "mid"].significant and by_pair["best", "same"].significant
    assert not by_pair["mid", "same"].significant
    assert by_pair["best", "mid"].ci95[0] < 2.0 < by_pair["best", "mid"].ci95[1]
    with pytest.raises(ValueError, match="alpha"):
        compare_all(lls, alpha=1.5)
