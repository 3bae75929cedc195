"""A conditional logit: one choice among the candidates of each group (a turn's sentences or
spans), fitted so that the gold candidates are most likely: maximise the sum over groups of
log(sum of softmax over the gold ones), with an L2 penalty. Convex, so a refit gives the same
weights; solved by scipy's L-BFGS on all groups stacked in one matrix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize


def _segment_max(z: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.maximum.reduceat(z, starts)


def fit(
    groups: Sequence[tuple[np.ndarray, np.ndarray]],
    l2: float = 1e-3,
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Weights for ``groups`` of ``(X, gold)`` (each ``X`` one row per candidate, ``gold`` a
    boolean mask with at least one True); ``weights`` per group (default 1); ``l2`` per
    group."""
    x = np.concatenate([g[0] for g in groups]).astype(np.float64)
    gold = np.concatenate([g[1] for g in groups]).astype(bool)
    sizes = np.array([len(g[0]) for g in groups])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    owner = np.repeat(np.arange(len(groups)), sizes)
    w_group = np.ones(len(groups)) if weights is None else np.asarray(weights, dtype=np.float64)
    penalty = l2 * len(groups)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ w
        z = z - _segment_max(z, starts)[owner]
        e = np.exp(z)
        all_sum = np.add.reduceat(e, starts)
        gold_sum = np.add.reduceat(e * gold, starts)
        nll = -np.sum(w_group * (np.log(gold_sum) - np.log(all_sum)))
        p = e / all_sum[owner]
        q = e * gold / gold_sum[owner]
        grad = x.T @ ((p - q) * w_group[owner])
        return nll + 0.5 * penalty * w @ w, grad + penalty * w

    done = minimize(loss, np.zeros(x.shape[1]), jac=True, method="L-BFGS-B",
                    options={"maxiter": 2000, "gtol": 1e-7})  # fmt: skip
    return np.asarray(done.x)


def chosen(x: np.ndarray, w: np.ndarray) -> int:
    """The candidate the weights choose."""
    return int(np.argmax(x @ w))
