"""The estimators' defaults and bounds, in one light module (no torch), so that every command
(`pgm evaluate`, `pgm compare`, `pgm suite`, `pgm bdmc`) and its ``--help`` read the same values.

The AIS defaults were chosen from measured BDMC gaps (``python -m benchmarks.ais_defaults RUN``,
numbers in ``benchmarks/ais_defaults_digits.json`` and the README): on a digits VAE, T = 500 with
4 chains gave the mean of T = 1000 with 16 chains (+0.02 ± 0.05 nats over 20 images) with a BDMC
gap of −0.05 nats (within noise of 0), at a fifth of the time.
"""

__all__ = [
    "DEFAULT_CHAINS",
    "DEFAULT_LEAPFROG",
    "DEFAULT_NUM_PARTICLES",
    "DEFAULT_STEPS",
    "MAX_AIS_CHAINS",
    "MAX_AIS_STEPS",
    "MAX_LEAPFROG",
    "MAX_PARTICLES",
]

#: K of every command that evaluates a run by importance sampling: one default, so that one
#: run has one official number.
DEFAULT_NUM_PARTICLES = 500
#: The largest K the estimator accepts: 10^8 importance samples per image already take hours on
#: a small model; larger requests are refused rather than left running.
MAX_PARTICLES = 10**8
#: AIS: annealing steps T, chains per image, leapfrog steps per HMC transition.
DEFAULT_STEPS = 500
DEFAULT_CHAINS = 4
DEFAULT_LEAPFROG = 10
# The β schedule holds T + 1 float64s and each step runs ``num_leapfrog`` gradient evaluations
# of every chain: beyond these a run exhausts the memory or never ends, so they are refused.
MAX_AIS_STEPS = 10**6
MAX_AIS_CHAINS = 10**5
MAX_LEAPFROG = 1000
