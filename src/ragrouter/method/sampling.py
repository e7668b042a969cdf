"""RAGRouter stage 2: perplexity-based dynamic sampling of the (augmented) training corpus.

Why: augmentation inflates the corpus with many easy, near-duplicate prompts. The thesis samples
the augmented set back down (225k -> ~200k, still above the 175k original) with a bias towards
hard prompts, measured by the perplexity (PPL) of the prompt under a causal LM, and then
rebalances the routing labels so the router does not learn the majority class.

Procedure (train rows only; validation rows pass through unchanged):
1. difficulty levels L1-L4 = PPL quartiles of the train rows;
2. weight_i = PPL_i^alpha * f(level_i), alpha = 1.5, PPL clipped at its 99th percentile (a guard
   against single outliers, `ppl_clip_quantile`), f(L1..L4) = Beta(2, 5) quantiles at
   0.1 / 0.3 / 0.7 / 0.9 (~0.09, 0.18, 0.36, 0.51: harder levels weigh up to ~5.5x more);
3. weighted sampling to the target size T (original < T < input); without replacement by default
   (`replace`, see DEFAULT_SAMPLE_PARAMS for why), by exponential races (`weighted_draw`), so the
   sampled rows do not depend on float noise in the perplexities;
4. label rebalancing to T: T/2 rows per label (or per label within each source,
   `rebalance_within: source`, so that a label does not also mean "from the high-base-rate source"). Decision: the majority label is *downsampled*
   (its stage-3 draws, uniformly without replacement) and the minority label is *upsampled*
   (further PPL-weighted draws with replacement from its input rows). Anyscale's llm-router
   (`balance_dataset` in src/utils.py, used by its notebook) downsamples every class to the
   smallest one; on this corpus (22 % strong) that alone would end far below the original size,
   which the thesis' size constraint forbids.

Sampled rows keep their input `id`, so an id repeats when a row is drawn more than once.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.common.io import resolve_params
from ragrouter.data.sources import tasks_of

DEFAULT_SAMPLE_PARAMS: dict[str, Any] = {
    "alpha": 1.5,  # PPL exponent of the base weight
    "beta_a": 2.0,  # Beta(a, b) whose quantiles give the per-level factors
    "beta_b": 5.0,
    "level_quantiles": [0.1, 0.3, 0.7, 0.9],  # Beta quantile levels for L1..L4
    "original_size": None,  # train rows before augmentation (the lower size bound)
    "target_size": None,  # explicit sampled train size; overrides target_position
    "target_position": 0.5,  # T = original + position * (input - original): thesis 175k + 0.5 * 50k = 200k
    "fallback_fraction": 0.9,  # original size unknown: T = fraction * input (an unaugmented input keeps its size)
    "rebalance": True,
    # null: one 50/50 balance over all train rows (the thesis); "source": 50/50 within each source
    "rebalance_within": None,
    # Draw without replacement (weighted): a row is kept at most once until its label runs out.
    # Decision: with replacement (the thesis' wording) PPL^1.5 concentrates ~80 % of the weight on
    # the hardest quartile, so a draw of T rows held only ~1/3 distinct prompts - the sampled corpus
    # (and the knowledge base built from it) lost two thirds of its data. True restores that form.
    "replace": False,
    # PPL clipped at this quantile of the train rows before weighting (None: no clipping). PPL^1.5 is
    # heavy-tailed: one garbled or code prompt at PPL 10^4 (median ~20) would weigh ~10^4 median rows.
    "ppl_clip_quantile": 0.99,
}


# --------------------------------------------------------------------------- Beta quantiles


def beta_cdf(x: float, a: float, b: float) -> float:
    """Regularised incomplete beta I_x(a, b), without scipy.

    Integer a, b use the exact binomial identity I_x(a, b) = P(Binomial(a+b-1, x) >= a); for
    Beta(2, 5) this is 1 - (1-x)^6 - 6x(1-x)^5 = 1 - (1-x)^5 (1 + 5x). Other a, b >= 1 integrate
    the density with composite Simpson (accurate to ~1e-10, plenty for sampling weights).
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if float(a).is_integer() and float(b).is_integer() and a >= 1 and b >= 1:
        n = int(a + b - 1)
        return float(sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(int(a), n + 1)))
    if a < 1 or b < 1:
        raise ValueError(f"beta_cdf: non-integer a={a}, b={b} must be >= 1 (density unbounded otherwise)")
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    grid = np.linspace(0.0, x, 4001)
    dens = np.exp(log_norm + (a - 1) * np.log(np.maximum(grid, 1e-300)) + (b - 1) * np.log(np.maximum(1 - grid, 1e-300)))
    h = x / 4000
    return float(h / 3 * (dens[0] + dens[-1] + 4 * dens[1:-1:2].sum() + 2 * dens[2:-1:2].sum()))


def beta_quantile(q: float, a: float = 2.0, b: float = 5.0, tol: float = 1e-12) -> float:
    """Inverse of `beta_cdf` by bisection (the CDF is monotone on [0, 1])."""
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"beta_quantile: q must lie in [0, 1], got {q}")
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if beta_cdf(mid, a, b) < q:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def level_factors(params: dict[str, Any] | None = None) -> np.ndarray:
    """Per-difficulty-level factors f(L1..L4) from the Beta quantiles."""
    p = resolve_params(DEFAULT_SAMPLE_PARAMS, params, "level_factors")
    return np.array([beta_quantile(q, p["beta_a"], p["beta_b"]) for q in p["level_quantiles"]])


# --------------------------------------------------------------------------- sampling


def difficulty_levels(ppl: np.ndarray) -> np.ndarray:
    """Level 0..3 (L1..L4) = PPL quartile; the quartile cut points come from these rows."""
    cuts = np.quantile(ppl, [0.25, 0.5, 0.75])
    return np.searchsorted(cuts, ppl, side="right").clip(0, 3)


def sampling_weights(ppl: np.ndarray, params: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Normalised weights PPL^alpha * f(level) (computed in log space: PPL^1.5 spans decades) and the levels."""
    p = resolve_params(DEFAULT_SAMPLE_PARAMS, params, "sampling_weights")
    levels = difficulty_levels(ppl)
    if p["ppl_clip_quantile"] is not None:
        ppl = np.minimum(ppl, np.quantile(ppl, p["ppl_clip_quantile"]))
    log_w = p["alpha"] * np.log(np.maximum(ppl, 1e-12)) + np.log(level_factors(p))[levels]
    w = np.exp(log_w - log_w.max())
    return w / w.sum(), levels


def target_size(n_input: int, params: dict[str, Any]) -> int:
    """Sampled train size T with original < T < input when the corpus was augmented."""
    original = params["original_size"]
    if params["target_size"] is not None:
        t = int(params["target_size"])
    elif original is None:
        t = int(round(params["fallback_fraction"] * n_input))
        logger.warning(f"sampling: original size unknown; T = {params['fallback_fraction']} * input = {t}")
    elif original >= n_input - 1:
        # not augmented (the aug=off ablation): the thesis' rule original + position * 0 keeps the
        # original size, so that variant differs from the full model by augmentation alone
        t = n_input
        logger.info(f"sampling: input {n_input} is the original corpus (nothing augmented); T = input")
    else:
        t = int(round(original + params["target_position"] * (n_input - original)))
        t = min(max(t, original + 1), n_input - 1)
    if original is not None and original < n_input - 1 and not original < t < n_input:
        raise ValueError(f"sampling: target size {t} must lie strictly between the original {original} and the input {n_input}")
    return max(t, 1)


def _label_counts(labels: np.ndarray) -> str:
    values, counts = np.unique(labels, return_counts=True)
    return ", ".join(f"label {v}: {c} ({c / max(len(labels), 1):.1%})" for v, c in zip(values, counts, strict=True))


def _race_winners(w: np.ndarray, draws: int, rng: np.random.Generator, chunk: int = 256) -> np.ndarray:
    """Positions of `draws` independent weighted draws with replacement: per draw the smallest
    E / w with E ~ Exp(1) per row (an exponential race)."""
    out = [np.zeros(0, dtype=np.int64)]
    for start in range(0, draws, chunk):
        e = rng.standard_exponential((min(chunk, draws - start), len(w)))
        out.append(np.argmin(np.where(w > 0, e / np.where(w > 0, w, 1.0), np.inf), axis=1))
    return np.concatenate(out)


def weighted_draw(pool: np.ndarray, weights: np.ndarray, size: int, replace: bool, rng: np.random.Generator) -> np.ndarray:
    """`size` PPL-weighted draws from `pool`; without replacement each row first appears once, and
    only when the pool is exhausted are further rows drawn again (with replacement).

    Exponential races (Efraimidis-Spirakis): row i gets the key E_i / w_i, E_i ~ Exp(1) drawn in pool
    order, and the smallest keys win. A row's key depends on its own weight alone, so float noise in
    the perplexities (another CPU) can only swap two rows whose keys tie to that precision; with
    `rng.choice(p=...)` every weight moved every cumulative boundary and a few rows changed per run.
    """
    w = weights[pool]
    if replace:
        return pool[_race_winners(w, size, rng)]
    keys = np.where(w > 0, rng.standard_exponential(len(pool)) / np.where(w > 0, w, 1.0), np.inf)
    # which rows win depends on the keys; their order must not (a near-tie anywhere would reorder
    # them and move every later uniform pick), so the winners come back in pool order
    first = pool[np.sort(np.argsort(keys, kind="stable")[: min(size, int((w > 0).sum()))])]
    if len(first) == size:
        return first
    return np.concatenate([first, pool[_race_winners(w, size - len(first), rng)]])


def rebalance(
    drawn: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray,
    size: int,
    rng: np.random.Generator,
    replace: bool = False,
    groups: np.ndarray | None = None,
) -> np.ndarray:
    """Row indices with equal label counts: size // 2 (+1 for the smaller label value on odd sizes)
    per label, or, with `groups` (e.g. the source of each row), equal label counts *within* each
    group, each group keeping its share of `drawn`.

    Per group the majority label is downsampled uniformly from its draws (they already carry the
    PPL bias); the minority label keeps its draws plus extra PPL-weighted draws from its rows not
    drawn yet (`replace` False, until they run out) or from all of them (`replace` True). Balancing
    within sources removes what pooled balancing leaves behind: with base rates of 73 % and 17 %
    strong-needed, "strong needed" otherwise also means "looks like the 73 % source".
    """
    if groups is None:
        groups = np.zeros(len(labels), dtype=np.int64)
    if len(np.unique(labels)) < 2:
        logger.warning(f"sampling: only label(s) {np.unique(labels).tolist()} in the train rows; nothing to rebalance")
        return drawn
    single = len(np.unique(groups)) == 1
    parts = []
    for g in np.unique(groups):
        in_group = groups == g
        classes = np.unique(labels[in_group])
        mine_g = drawn[in_group[drawn]]
        if len(classes) < 2:
            parts.append(mine_g)  # nothing to balance in a one-label group
            continue
        g_size = size if single else len(mine_g)
        per = {c: g_size // len(classes) + (k < g_size % len(classes)) for k, c in enumerate(classes)}
        for c in classes:
            mine = mine_g[labels[mine_g] == c]
            want = per[c]
            if len(mine) >= want:
                parts.append(np.sort(rng.choice(mine, size=want, replace=False)))
            else:
                pool = np.flatnonzero(in_group & (labels == c))
                if not replace:
                    fresh = np.setdiff1d(pool, mine)
                    pool = fresh if len(fresh) and weights[fresh].sum() > 0 else pool
                parts.append(np.concatenate([mine, weighted_draw(pool, weights, want - len(mine), replace, rng)]))
    return np.concatenate(parts)


def dynamic_sample(corpus: pl.DataFrame, ppl: np.ndarray, params: dict[str, Any] | None = None, seed: int = 0) -> pl.DataFrame:
    """PPL-weighted, label-balanced resampling of the train rows; validation rows unchanged.

    `ppl` is aligned with `corpus` rows (validation entries are ignored and may be NaN). A NaN PPL
    of a train row is replaced by the median so the row stays sampleable.
    """
    p = resolve_params(DEFAULT_SAMPLE_PARAMS, params, "dynamic_sample")
    ppl = np.asarray(ppl, dtype=np.float64)
    if len(ppl) != corpus.height:
        raise ValueError(f"dynamic_sample: {len(ppl)} perplexities for {corpus.height} corpus rows")
    is_train = (corpus["split"] == "train").to_numpy()
    train, validation = corpus.filter(pl.Series(is_train)), corpus.filter(~pl.Series(is_train))
    train_ppl = ppl[is_train]
    if train.height == 0:
        logger.warning("sampling: no train rows; corpus returned unchanged")
        return corpus
    if np.isnan(train_ppl).any():
        logger.warning(f"sampling: {int(np.isnan(train_ppl).sum())} train rows without a PPL get the median")
        train_ppl = np.where(np.isnan(train_ppl), np.nanmedian(train_ppl) if (~np.isnan(train_ppl)).any() else 1.0, train_ppl)
    labels = train["label"].to_numpy()
    rng = np.random.default_rng(seed)

    weights, levels = sampling_weights(train_ppl, p)
    factors = level_factors(p)
    for lv in range(4):
        sel = levels == lv
        logger.info(
            f"sampling: L{lv + 1}: {int(sel.sum())} rows, PPL {train_ppl[sel].min() if sel.any() else float('nan'):.1f}-"
            f"{train_ppl[sel].max() if sel.any() else float('nan'):.1f}, factor {factors[lv]:.4f}, weight share {weights[sel].sum():.1%}"
        )
    size = target_size(train.height, p)
    logger.info(f"sampling: input {corpus.height} rows ({train.height} train, {validation.height} validation), original train size {p['original_size']}, target {size}")
    logger.info(f"sampling: input train labels: {_label_counts(labels)}")

    drawn = weighted_draw(np.arange(train.height), weights, size, p["replace"], rng)
    logger.info(f"sampling: weighted draw: {len(drawn)} rows ({len(np.unique(drawn))} distinct); labels: {_label_counts(labels[drawn])}")
    if p["rebalance"]:
        groups = None
        if p["rebalance_within"] == "task":  # the task dataset inside a source (`task_of`)
            groups = np.unique(tasks_of(train["id"], train["source"]), return_inverse=True)[1]
        elif p["rebalance_within"] is not None:
            if p["rebalance_within"] not in train.columns:
                raise ValueError(f"dynamic_sample: rebalance_within {p['rebalance_within']!r} is neither 'task' nor a corpus column")
            groups = np.unique(train[p["rebalance_within"]].to_numpy().astype(str), return_inverse=True)[1]
        drawn = rebalance(drawn, labels, weights, size, rng, p["replace"], groups)
        logger.info(f"sampling: rebalanced: {len(drawn)} rows ({len(np.unique(drawn))} distinct); labels: {_label_counts(labels[drawn])}")
    drawn = drawn[rng.permutation(len(drawn))]
    sampled = train[drawn.tolist()]
    out = pl.concat([sampled, validation], how="vertical")
    logger.info(f"sampling: output {out.height} rows ({sampled.height} train, {validation.height} validation)")
    return out
