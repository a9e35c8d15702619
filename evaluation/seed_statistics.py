"""Statistics whose unit is the training run: a model is several trained networks (seeds), each
scored on the same test images, and a claim about the *model* must hold over its seeds.

Inputs are per-seed, per-image log-likelihoods ``(S, N)`` of one model (``S`` seeds, the same
``N`` test images for every seed and every model). What is computed:

- :func:`summarise_model`: the model's mean over seeds and images and a two-level bootstrap
  interval (resample seeds, then test images; Davison & Hinkley 1997, §3.8, the nested
  bootstrap), so the interval includes between-seed variance;
- :func:`compare_models`: a pairwise test with the seeds as replicates (Welch's t on the
  per-seed means), paired over the shared test images (the image term is the variance of the
  per-image difference of the seed-averaged log-likelihoods), with Holm's adjustment across
  pairs (:func:`compare_all_models`); the probability of improvement ``P(A > B)`` over seed
  pairs; the smallest difference the seeds can resolve;
- :func:`variance_shares`: where one run's score varies — seeds, test images, Monte Carlo.

Why these tools: Bouthillier et al. (MLSys 2021) show that a test whose unit is the image
calls the same model trained twice "different"; the training run must be the unit. Welch's t
(SciPy's ``t`` distribution) is used rather than a permutation test over seed labels because
3 vs 3 seeds have only 20 label permutations: such a test can never reach p <= 0.05 two-sided.
``rliable`` (Agarwal et al., NeurIPS 2021) is not a dependency of pgm and its probability of
improvement for one task is the Mann-Whitney ``U / (S_A S_B)`` that SciPy computes; ``deepsig``'s
almost stochastic order needs many more scores than a few seeds give. Everything here is
NumPy/SciPy.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from pgm.errors import PgmError

from .statistics import holm

__all__ = [
    "POWER",
    "SeedComparison",
    "SeedSummary",
    "compare_all_models",
    "compare_models",
    "mc_variance_from_log_weights",
    "minimal_detectable_difference",
    "probability_of_improvement",
    "seeds_needed",
    "summarise_model",
    "variance_shares",
]

#: the power at which the minimal detectable difference is stated
POWER = 0.8


def _per_seed(values, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2 or v.shape[0] < 1 or v.shape[1] < 2:
        raise PgmError(
            f"{name}: expected per-seed log-likelihoods (S, N) with N >= 2; found {v.shape}"
        )
    if not np.all(np.isfinite(v)):
        raise PgmError(
            f"{name}: expected finite values; found {int((~np.isfinite(v)).sum())} NaN/inf"
        )
    return v


@dataclass
class SeedSummary:
    """One model over its seeds: mean, two-level bootstrap interval, per-seed means."""

    model: str
    num_seeds: int
    mean: float
    ci95: tuple[float, float] | None
    seed_means: list[float]
    seed_sd: float | None

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ci95"] = list(self.ci95) if self.ci95 is not None else None
        return d


def summarise_model(
    model: str, per_seed, n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95
) -> SeedSummary:
    """Mean of ``per_seed: (S, N)`` and a percentile interval from a two-level bootstrap: each
    resample draws S seeds with replacement, then N test images with replacement (the same images
    for every seed drawn). With one seed there is no between-seed variance to resample: the
    interval is ``None`` (the page says so), never an image-only interval passed off as a model's.
    """
    v = _per_seed(per_seed, model)
    s, n = v.shape
    means = v.mean(1)
    if s < 2:
        return SeedSummary(model, 1, float(v.mean()), None, means.tolist(), None)
    rng = np.random.default_rng(seed)
    boot = np.empty(n_resamples)
    for b in range(n_resamples):
        seeds = rng.integers(0, s, size=s)
        images = rng.integers(0, n, size=n)
        boot[b] = v[np.ix_(seeds, images)].mean()
    tail = (1 - confidence) / 2
    ci = (float(np.quantile(boot, tail)), float(np.quantile(boot, 1 - tail)))
    return SeedSummary(model, s, float(v.mean()), ci, means.tolist(), float(means.std(ddof=1)))


@dataclass
class SeedComparison:
    """Model ``a`` against model ``b`` with seeds as replicates (``a`` the better-ranked)."""

    a: str
    b: str
    seeds_a: int
    seeds_b: int
    mean_difference_nats: float
    standard_error: float
    df: float
    ci95: tuple[float, float]
    p_value: float
    probability_of_improvement: float
    minimal_detectable_difference: float
    p_value_adjusted: float = math.nan
    significant: bool = False

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ci95"] = list(self.ci95)
        return d


def _welch_parts(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Difference of the model means, its standard error, and Welch-Satterthwaite df.

    SE^2 = s_A^2/S_A + s_B^2/S_B + var_i(abar_i - bbar_i)/N: the seed terms are the spread of the
    per-seed means (on these images: training variance and Monte Carlo), the image term is the
    sampling variance of the test images, paired image by image (both models saw the same)."""
    ma, mb = a.mean(1), b.mean(1)
    paired = a.mean(0) - b.mean(0)
    n = paired.size
    parts = [ma.var(ddof=1) / ma.size, mb.var(ddof=1) / mb.size, paired.var(ddof=1) / n]
    dfs = [ma.size - 1, mb.size - 1, n - 1]
    var = sum(parts)
    if var <= 0:
        return float(ma.mean() - mb.mean()), 0.0, float(sum(dfs))
    df = var**2 / sum(p**2 / d for p, d in zip(parts, dfs, strict=True) if p > 0)
    return float(ma.mean() - mb.mean()), math.sqrt(var), float(df)


def probability_of_improvement(a, b) -> float:
    """``P(A > B)``: the share of seed pairs (one run of A, one of B) in which A's run scores
    higher, ties counted half — Agarwal et al.'s (2021) probability of improvement for one task,
    the Mann-Whitney statistic ``U / (S_A S_B)`` (:func:`scipy.stats.mannwhitneyu`)."""
    ma, mb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    u = stats.mannwhitneyu(ma, mb, alternative="two-sided", method="asymptotic").statistic
    return float(u / (ma.size * mb.size))


def minimal_detectable_difference(
    standard_error: float, df: float, alpha: float = 0.05, power: float = POWER
) -> float:
    """The smallest true difference a two-sided t test at ``alpha`` finds with ``power``:
    ``(t_{1-alpha/2} + t_{power}) * SE`` (the usual normal-theory power formula, t quantiles)."""
    if not math.isfinite(df) or df <= 0:
        return math.inf
    return float((stats.t.ppf(1 - alpha / 2, df) + stats.t.ppf(power, df)) * standard_error)


def seeds_needed(
    difference: float, seed_sd: float, alpha: float = 0.05, power: float = POWER, cap: int = 1000
) -> int | None:
    """Seeds per model for two models of seed spread ``seed_sd`` to resolve ``difference`` nats
    (the seed term only); ``None`` when more than ``cap`` would be needed."""
    for s in range(2, cap + 1):
        se = seed_sd * math.sqrt(2 / s)
        if minimal_detectable_difference(se, 2 * s - 2, alpha, power) <= abs(difference):
            return s
    return None


def compare_models(a: str, b: str, per_seed_a, per_seed_b, alpha: float = 0.05) -> SeedComparison:
    """Welch's t test of the difference of two models' means with their seeds as replicates
    (both need >= 2 seeds), paired over the shared test images (see :func:`_welch_parts`)."""
    va, vb = _per_seed(per_seed_a, a), _per_seed(per_seed_b, b)
    if va.shape[1] != vb.shape[1]:
        raise PgmError(
            f"{b}: expected the same {va.shape[1]} test images as {a}; found {vb.shape[1]}"
        )
    if va.shape[0] < 2 or vb.shape[0] < 2:
        raise PgmError(
            f"{a} vs {b}: expected >= 2 seeds per model for a test over seeds; found "
            f"{va.shape[0]} and {vb.shape[0]}"
        )
    diff, se, df = _welch_parts(va, vb)
    if se == 0:
        p = 1.0 if diff == 0 else 0.0
        half = 0.0
    else:
        p = float(2 * stats.t.sf(abs(diff) / se, df))
        half = float(stats.t.ppf(1 - alpha / 2, df) * se)
    return SeedComparison(
        a=a,
        b=b,
        seeds_a=va.shape[0],
        seeds_b=vb.shape[0],
        mean_difference_nats=diff,
        standard_error=se,
        df=df,
        ci95=(diff - half, diff + half),
        p_value=p,
        probability_of_improvement=probability_of_improvement(va.mean(1), vb.mean(1)),
        minimal_detectable_difference=minimal_detectable_difference(se, df, alpha),
    )


def compare_all_models(
    per_seed: dict[str, np.ndarray], alpha: float = 0.05
) -> list[SeedComparison]:
    """Every pair of models (in the given order, best first), Holm-adjusted across pairs."""
    pairs = [
        compare_models(a, b, per_seed[a], per_seed[b], alpha)
        for a, b in itertools.combinations(per_seed, 2)
    ]
    for c, adj in zip(pairs, holm([c.p_value for c in pairs]), strict=True):
        c.p_value_adjusted = float(adj)
        c.significant = bool(adj <= alpha)
    return pairs


def mc_variance_from_log_weights(log_weights) -> np.ndarray:
    """Per-image Monte Carlo variance of the importance-sampled ``log p(x)`` from its K log
    weights ``(K, N)`` (the estimator's layout), by the delta method: ``Var[w] / (K E[w]^2)``
    (0 for K = 1, which is exact for a model without latents)."""
    lw = np.asarray(log_weights, dtype=np.float64)
    if lw.ndim != 2:
        raise PgmError(f"log_weights: expected shape (K, N); found {lw.shape}")
    k = lw.shape[0]
    if k < 2:
        return np.zeros(lw.shape[1])
    w = np.exp(lw - lw.max(0, keepdims=True))
    return w.var(0, ddof=1) / (k * w.mean(0) ** 2)


def variance_shares(per_seed, mc_variance=None) -> dict:
    """Where the score of one trained run (its mean log-likelihood on N test images) varies:

    - ``seeds``: between-seed variance of the per-seed means, less their Monte Carlo part;
    - ``test_images``: the sampling variance of a mean over N test images, ``var_i / N``;
    - ``monte_carlo``: the estimator's own variance, ``mean_i(mc_var_i) / N`` (from the
      per-image variance of the IS estimate, ``mc_variance: (S, N)``).

    Returns the variances (nats^2), their ``shares`` (summing to 1), and ``separable`` notes: with
    one seed the seed term is not separable (``None``), without ``mc_variance`` the Monte Carlo
    term is not separated from the others (``None``)."""
    v = _per_seed(per_seed, "per_seed")
    s, n = v.shape
    mc = None
    if mc_variance is not None:
        m = np.asarray(mc_variance, dtype=np.float64)
        if m.shape != v.shape:
            raise PgmError(f"mc_variance: expected shape {v.shape}; found {m.shape}")
        mc = float(m.mean() / n)
    image = float(v.mean(0).var(ddof=1) / n) if s > 1 else float(v[0].var(ddof=1) / n)
    seed_var = None
    if s > 1:
        seed_var = max(0.0, float(v.mean(1).var(ddof=1)) - (mc or 0.0))
    parts = {"seeds": seed_var, "test_images": image, "monte_carlo": mc}
    total = sum(p for p in parts.values() if p is not None)
    shares = {k: (p / total if p is not None and total > 0 else None) for k, p in parts.items()}
    notes = []
    if seed_var is None:
        notes.append("one seed: training variance is not separable (not included)")
    if mc is None:
        notes.append("no per-image Monte Carlo variance: not separable from the other terms")
    return {"num_seeds": s, "num_images": n, "variance": parts, "shares": shares, "notes": notes}
