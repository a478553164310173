"""Always-valid p-values, so the analysis loop may look as often as it likes.

The loop re-tests a step every few seconds on a sample that keeps growing. A
fixed-level test repeated like that rejects a true null far more often than its
level says. An always-valid p-value ``p_t`` instead satisfies
``P(p_t <= a at any time t) <= a`` under the null: it is ``1 / L_t`` for a
likelihood ratio ``L_t`` that is a (super)martingale under the null, bounded
by Ville's inequality however often, and whenever, it is read.

- Comparisons of two arms (error rate, guardrail-block rate, latency) use the
  mixture sequential probability ratio test (mSPRT, Robbins 1970; Johari et
  al. 2017) on the Gaussian approximation of the statistic: with ``z`` the
  usual z-score and ``I`` its information (1 / variance of the effect), the
  score ``S = z * sqrt(I)`` behaves like Brownian motion with drift ``effect``
  in time ``I``. Mixing the likelihood ratio over effects ``N(0, tau^2)``
  restricted to "candidate worse" (a half-normal) gives it in closed form.
- A rate against a fixed ceiling (shadow disagreement) is one Bernoulli
  sequence: its mixture likelihood ratio, uniform over rates above the
  ceiling, is exact (beta functions), no approximation needed.

``holm`` corrects across the metrics of one step (Holm 1979); the caller
splits the rollout's alpha over its steps (Bonferroni), so the whole rollout's
false-rollback rate stays at or below the configured alpha. Everything is on
scipy; ``bench/rollout_sim.py`` measures it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from numpy.typing import NDArray

Z_CAP = 40.0  # a z beyond this carries no more evidence worth computing


def mixture_p_value(z: float, information: float, tau: float) -> float:
    """Always-valid one-sided p-value for "effect > 0" from a z-score and its information.

    ``tau`` is the scale of the effects the test is tuned to find, in the
    effect's own units (information is 1 / variance in those units).
    """
    if information <= 0 or not z > 0:  # no evidence of "worse" (also NaN)
        return 1.0
    from scipy.special import log_ndtr  # lazily, like the rest of the analysis's scipy

    score = min(z, Z_CAP) * math.sqrt(information)
    spread = 1.0 + tau * tau * information
    log_ratio = (
        math.log(2.0)
        - 0.5 * math.log(spread)
        + tau * tau * score * score / (2.0 * spread)
        + float(log_ndtr(tau * score / math.sqrt(spread)))
    )
    return 1.0 if log_ratio <= 0 else math.exp(-log_ratio)


def two_proportions(bad: int, n: int, base_bad: int, base_n: int) -> tuple[float, float]:
    """(z, information) of "candidate rate - baseline rate", pooled variance (the null's)."""
    if n <= 0 or base_n <= 0:
        return 0.0, 0.0
    pooled = (bad + base_bad) / (n + base_n)
    variance = pooled * (1.0 - pooled) * (1.0 / n + 1.0 / base_n)
    if variance <= 0:
        return 0.0, 0.0
    return (bad / n - base_bad / base_n) / math.sqrt(variance), 1.0 / variance


def mann_whitney(candidate: NDArray[Any], baseline: NDArray[Any]) -> tuple[float, float]:
    """(z, information) of "candidate slower", on the scale of P(candidate > baseline) - 1/2.

    The z-score is the Mann-Whitney U's normal approximation with the tie
    correction (what ``scipy.stats.mannwhitneyu(method="asymptotic",
    use_continuity=False)`` computes; a test holds the two together), from
    scipy's ranks: the loop computes it for every look, and the ranks alone
    cost a tenth of the full function on small samples. Under the null the
    estimate ``U / (n m) - 1/2`` has variance ``(n + m + 1) / (12 n m)``.
    """
    n, m = len(candidate), len(baseline)
    if n == 0 or m == 0:
        return 0.0, 0.0
    import numpy as np
    from scipy.stats import rankdata

    both = np.concatenate([candidate, baseline])
    u = float(rankdata(both)[:n].sum()) - n * (n + 1) / 2
    total = n + m
    _, tied = np.unique(both, return_counts=True)
    ties = float((tied.astype(float) ** 3 - tied).sum()) / (total * (total - 1))
    variance = n * m / 12 * (total + 1 - ties)
    if variance <= 0:  # every latency equal
        return 0.0, 0.0
    return (u - n * m / 2) / math.sqrt(variance), 12.0 * n * m / (total + 1)


def rate_above_ceiling_p_value(k: int, n: int, ceiling: float) -> float:
    """Always-valid p-value for "rate > ceiling" from ``k`` successes in ``n`` Bernoulli trials.

    The likelihood ratio against the ceiling, mixed uniformly over rates in
    (ceiling, 1]: ``int q^k (1-q)^(n-k) dq / ((1 - ceiling) c^k (1-c)^(n-k))``.
    """
    if n <= 0 or ceiling >= 1:
        return 1.0
    if ceiling <= 0:
        return 0.0 if k > 0 else 1.0
    from scipy import special, stats

    log_mixture = float(special.betaln(k + 1, n - k + 1)) + float(
        stats.beta.logsf(ceiling, k + 1, n - k + 1)
    )
    log_null = k * math.log(ceiling) + (n - k) * math.log1p(-ceiling) + math.log1p(-ceiling)
    log_ratio = log_mixture - log_null
    return 1.0 if log_ratio <= 0 else math.exp(-log_ratio)


def holm(p_values: Mapping[str, float], alpha: float) -> dict[str, tuple[float, bool]]:
    """Holm's step-down across hypotheses: {name: (its level, rejected)}.

    The smallest p-value is held to ``alpha / m``, the next to ``alpha / (m - 1)``, ...;
    once one is kept, every larger one is kept too.
    """
    ordered = sorted(p_values.items(), key=lambda item: item[1])
    decided: dict[str, tuple[float, bool]] = {}
    rejecting = True
    for rank, (name, p) in enumerate(ordered):
        level = alpha / (len(ordered) - rank)
        rejecting = rejecting and p <= level
        decided[name] = (level, rejecting)
    return decided
