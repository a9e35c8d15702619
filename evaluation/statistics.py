"""Statistics across models evaluated on the same images: bootstrap intervals, paired tests,
Holm's adjustment for multiple comparisons, and a ranking that says which models tie.

Every model is scored on the *same* test images, so two models' per-image log-likelihoods
are paired: the comparison of models ``a`` and ``b`` works on the differences
``d_i = log p_a(x_i) − log p_b(x_i)``, which removes the (large) variation between images
that both models share.

References:
  * Efron (1987), Better bootstrap confidence intervals (BCa), JASA 82(397).
  * Fisher (1935), The Design of Experiments, §21 (the sign-flip randomisation test).
  * Wilcoxon (1945), Individual comparisons by ranking methods, Biometrics Bulletin 1(6).
  * Holm (1979), A simple sequentially rejective multiple test procedure, Scand. J. Statist. 6.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from pgm.errors import PgmError

__all__ = [
    "MeanSummary",
    "PairedComparison",
    "compact_letter_columns",
    "compare_all",
    "compare_paired",
    "holm",
    "rank_models",
    "sign_flip_test",
    "summarise_mean",
    "wilcoxon_test",
]


@dataclass
class MeanSummary:
    """The mean of per-image values with its standard error and a bootstrap interval."""

    mean: float
    standard_error: float
    ci95: tuple[float, float]
    confidence_level: float
    n: int

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        return d


@dataclass
class PairedComparison:
    """Model ``a`` against model ``b`` on the same images (``a`` is the better-ranked one)."""

    a: str
    b: str
    mean_difference_nats: float
    ci95: tuple[float, float]
    standard_error: float
    p_value: float
    p_value_wilcoxon: float
    p_value_adjusted: float = math.nan
    significant: bool = False
    fraction_a_better: float = math.nan

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        return d


def _as_vector(values, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size < 2:
        raise PgmError(
            f"{name}: expected a 1-D array of at least 2 per-image values; found shape {v.shape}"
        )
    if not np.all(np.isfinite(v)):
        raise PgmError(
            f"{name}: expected finite values; found {int((~np.isfinite(v)).sum())} NaN/inf"
        )
    return v


def summarise_mean(
    values,
    confidence_level: float = 0.95,
    n_resamples: int = 9999,
    seed: int = 0,
    method: str = "BCa",
) -> MeanSummary:
    """Mean of ``values: (N,)``, its standard error ``sd / sqrt(N)``, and a bootstrap interval
    (BCa by default, Efron 1987) from :func:`scipy.stats.bootstrap`.

    Identical values have no sampling variability to resample (BCa is undefined there): the
    interval is then the point ``[mean, mean]``."""
    v = _as_vector(values, "values")
    mean = float(v.mean())
    se = float(v.std(ddof=1) / math.sqrt(v.size))
    if np.ptp(v) <= 1e-12 * max(1.0, abs(mean)):
        return MeanSummary(mean, se, (mean, mean), confidence_level, int(v.size))
    res = stats.bootstrap(
        (v,),
        np.mean,
        n_resamples=n_resamples,
        confidence_level=confidence_level,
        method=method,
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    ci = res.confidence_interval
    return MeanSummary(mean, se, (float(ci.low), float(ci.high)), confidence_level, int(v.size))


def sign_flip_test(differences, n_resamples: int = 9999, seed: int = 0) -> float:
    """Two-sided paired randomisation test of ``E[d] = 0`` for ``differences: (N,)``.

    Under the null hypothesis that the two models are exchangeable on each image, every d_i is
    as likely to have either sign (Fisher 1935); the null distribution of the mean difference is
    drawn by flipping signs at random. The p-value ``(1 + #{|mean*| >= |mean|}) / (R + 1)`` is
    exact-valid for a Monte Carlo test (it never falls below 1/(R+1)). The test statistic is the
    mean, the quantity the report states, rather than the median that Wilcoxon's test targets.
    """
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or d.shape[0] < 2:
        raise PgmError(f"differences: expected shape (N,) with N >= 2; found {d.shape}")
    if not np.all(np.isfinite(d)):
        # NaN compares False with everything: no resample would count as extreme, p = 1/(R+1)
        raise PgmError(
            f"differences: expected finite values; found {int((~np.isfinite(d)).sum())} NaN/inf"
        )
    n = d.shape[0]
    rng = np.random.default_rng(seed)
    observed = abs(d.mean())
    exceed = 0
    # batches of sign patterns keep memory at ~8 MB however many resamples are asked for
    batch = max(1, min(n_resamples, 2**20 // max(n, 1)))
    done = 0
    while done < n_resamples:
        r = min(batch, n_resamples - done)
        signs = rng.integers(0, 2, size=(r, n), dtype=np.int8).astype(np.float64) * 2.0 - 1.0
        null = np.abs(signs @ d) / n
        # a relative tolerance so that resamples equal to the observed value up to rounding count
        # as "at least as extreme" (all-zero differences then give p = 1, as they must)
        exceed += int((null >= observed * (1 - 1e-10) - 1e-12).sum())
        done += r
    return float((1.0 + exceed) / (n_resamples + 1.0))


def wilcoxon_test(differences) -> float:
    """Two-sided Wilcoxon signed-rank p-value for paired ``differences: (N,)`` (Wilcoxon 1945);
    1.0 when every difference is zero (no evidence of any difference)."""
    d = np.asarray(differences, dtype=np.float64)
    if np.all(d == 0):
        return 1.0
    with warnings.catch_warnings():
        # scipy warns when it falls back from the exact to the normal approximation because of
        # zeros or ties; the approximate p-value is the intended one then
        warnings.simplefilter("ignore", UserWarning)
        return float(stats.wilcoxon(d, zero_method="wilcox").pvalue)


def holm(p_values) -> np.ndarray:
    """Holm's (1979) step-down adjustment: controls the family-wise error rate for any
    dependence between the tests. With p-values sorted ``p_(1) <= ... <= p_(m)``,
    ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``; reject where ``p~ <= alpha``."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise PgmError(f"p_values: expected a 1-D array; found shape {p.shape}")
    if np.any((p < 0) | (p > 1) | ~np.isfinite(p)):
        raise PgmError(
            "p_values: expected values in [0, 1]; "
            f"found {p[(p < 0) | (p > 1) | ~np.isfinite(p)][:3]}"
        )
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def compare_paired(
    a: str,
    b: str,
    log_lik_a,
    log_lik_b,
    n_resamples: int = 9999,
    seed: int = 0,
) -> PairedComparison:
    """One paired comparison on the same images: mean of ``log_lik_a − log_lik_b`` (nats), its
    BCa interval, sign-flip and Wilcoxon p-values (unadjusted)."""
    la, lb = _as_vector(log_lik_a, f"log_lik_a ({a})"), _as_vector(log_lik_b, f"log_lik_b ({b})")
    if la.shape != lb.shape:
        raise PgmError(
            f"log_lik_b ({b}): expected the same images as {a}, shape {la.shape}; "
            f"found shape {lb.shape}"
        )
    d = la - lb
    s = summarise_mean(d, n_resamples=n_resamples, seed=seed)
    return PairedComparison(
        a=a,
        b=b,
        mean_difference_nats=s.mean,
        ci95=s.ci95,
        standard_error=s.standard_error,
        p_value=sign_flip_test(d, n_resamples=n_resamples, seed=seed),
        p_value_wilcoxon=wilcoxon_test(d),
        fraction_a_better=float((d > 0).mean()),
    )


def compare_all(
    log_likelihoods: dict[str, np.ndarray],
    alpha: float = 0.05,
    n_resamples: int = 9999,
    seed: int = 0,
    skip: Callable[[str, str], bool] | None = None,
) -> list[PairedComparison]:
    """Every pair of models (in the given order; put the best first so that ``a`` is the
    better one), with Holm-adjusted p-values and ``significant = p_adjusted <= alpha``.
    ``skip(a, b)``: pairs left out of the tests and of Holm's family (two seeds of one model:
    their difference is training variance, not a hypothesis about models)."""
    if not 0 < alpha < 1:
        raise PgmError(f"alpha: expected a level in (0, 1); found {alpha}")
    names = list(log_likelihoods)
    pairs = [
        compare_paired(a, b, log_likelihoods[a], log_likelihoods[b], n_resamples, seed)
        for a, b in itertools.combinations(names, 2)
        if skip is None or not skip(a, b)
    ]
    for c, adj in zip(pairs, holm([c.p_value for c in pairs]), strict=True):
        c.p_value_adjusted = float(adj)
        c.significant = bool(adj <= alpha)
    return pairs


def rank_models(
    names: list[str],
    means: list[float],
    comparisons: list[PairedComparison],
) -> list[dict]:
    """Rank models by mean log-likelihood, and say which ranks the data can tell apart.

    Each row has ``rank`` (1 = best mean), ``rank_range`` ``[best, worst]`` (the ranks left
    possible by the significant comparisons: 1 + the number of models significantly better,
    M − the number significantly worse), and ``group``: the compact letter display of
    :func:`compact_letter_columns` (two models share a letter iff no significant comparison
    separates them).
    """
    if len(names) != len(means):
        raise PgmError(f"means: expected one per model ({len(names)}); found {len(means)}")
    order = sorted(range(len(names)), key=lambda i: -means[i])
    ranked = [names[i] for i in order]
    differ = {(c.a, c.b) for c in comparisons if c.significant}
    differ |= {(b, a) for a, b in differ}
    m = len(ranked)

    def distinct(i: int, j: int) -> bool:
        return (ranked[i], ranked[j]) in differ

    columns = compact_letter_columns(
        m, [(i, j) for i in range(m) for j in range(i + 1, m) if distinct(i, j)]
    )
    letters = [_letter(k) for k in range(len(columns))]
    rows = []
    for pos, name in enumerate(ranked):
        better = sum(distinct(k, pos) for k in range(pos))
        worse = sum(distinct(pos, k) for k in range(pos + 1, m))
        rows.append(
            {
                "model": name,
                "rank": pos + 1,
                "rank_range": [better + 1, m - worse],
                "group": "".join(letters[c] for c, members in enumerate(columns) if pos in members),
            }
        )
    return rows


def compact_letter_columns(m: int, different: list[tuple[int, int]]) -> list[set[int]]:
    """The letters of a compact letter display for ``m`` models (indices in rank order), each
    the set of models carrying it, by the insert-absorb algorithm of Piepho (2004): start with
    one letter for all; for each significantly different pair, split every letter holding both
    into a copy without the one and a copy without the other; drop letters contained in another.
    Then models significantly different never share a letter, and any two models not
    significantly different share at least one. Letters come out ordered by their best-ranked
    model (then by the next), so the best model gets ``a``.

    References:
        H.-P. Piepho. "An algorithm for a letter-based representation of all-pairwise
        comparisons." Journal of Computational and Graphical Statistics 13(2), 2004.
    """
    columns: list[set[int]] = [set(range(m))] if m else []
    for i, j in different:
        split = []
        for col in columns:
            if i in col and j in col:
                split += [col - {i}, col - {j}]
            else:
                split.append(col)
        # absorb: a letter whose models all carry another letter as well says nothing new
        unique = []
        for col in split:
            if col not in unique:
                unique.append(col)
        columns = [c for c in unique if not any(c < other for other in unique)]
    return sorted(columns, key=sorted)


def _letter(k: int) -> str:
    """a, b, ..., z, aa, ab, ... for the k-th group."""
    out = ""
    k += 1
    while k:
        k, r = divmod(k - 1, 26)
        out = chr(ord("a") + r) + out
    return out
