"""Figure S2: Corollary 1's optimal beta and the best achievable bound.

Corollary 1 states that Theorem 1's bound is minimised at
`beta* = sqrt(B_learn (delta + delta')) / (sqrt(C) - sqrt(B_learn (delta + delta')))`
when `delta + delta' < C / B_learn`, and that the minimum is at most
`B_eval delta' + 2 sqrt(C B_learn (delta + delta'))`. The figure uses
`B_learn = B_eval = C = 1` and `delta = delta'`.
"""

import numpy as np

from eqcml.theory import best_bound, best_bound_upper, optimal_beta, theorem1_bound

from ._figure import (
    Claim,
    Curve,
    FigureResult,
    fmt,
    fmt_list,
    loglog_fit,
    Panel,
    RunConfig,
    write_figure,
)

GREY_BETAS = (1e-3, 1e-2, 1e-1, 1.0)
# Corollary 1 needs delta + delta' < C / B_learn = 1, so delta = delta' stays below 1/2.
MAX_DELTA = 0.2


def run(config: RunConfig) -> FigureResult:
    """Compare Corollary 1 with a numerical minimisation of Theorem 1's bound."""
    n_deltas = 25 if config.quick else 120
    n_betas = 4001 if config.quick else 40001
    deltas = np.logspace(-8, np.log10(MAX_DELTA), n_deltas)
    beta_grid = np.logspace(-6, 4, n_betas)
    log_step = np.log(beta_grid[1] / beta_grid[0])

    beta_star = np.asarray(optimal_beta(deltas, deltas))
    best = np.asarray(best_bound(deltas, deltas))
    upper = np.asarray(best_bound_upper(deltas, deltas))
    # A (deltas, betas) table of the bound; its row minima are the numerical optimum.
    table = np.asarray(theorem1_bound(deltas[:, None], deltas[:, None], beta_grid[None, :]))
    beta_numerical = beta_grid[np.argmin(table, axis=1)]
    grid_min = table.min(axis=1)
    grey = {b: np.asarray(theorem1_bound(deltas, deltas, b)) for b in GREY_BETAS}

    curves = [
        Curve("A", "Corollary 1", "delta", deltas, "beta*", beta_star, {"color": "C0"}),
        Curve(
            "A", "numerical argmin", "delta", deltas, "beta*", beta_numerical,
            {"color": "k", "linestyle": "none", "marker": ".", "markersize": 3},
        ),
        Curve("B", "best bound (Corollary 1)", "delta", deltas, "bound", best, {"color": "C0", "linewidth": 2}),
        Curve(
            "B", "B_eval delta' + 2 sqrt(C B_learn (delta + delta'))", "delta", deltas, "bound", upper,
            {"color": "C3", "linestyle": "--"},
        ),
    ]
    for b in GREY_BETAS:
        curves.append(
            Curve(
                "B", f"Theorem 1 at beta={b:g}", "delta", deltas, "bound", grey[b],
                {"color": "0.6", "linewidth": 1},
                legend=b == GREY_BETAS[0] and f"Theorem 1 at fixed beta = {fmt_list(GREY_BETAS)}",
            )
        )
    panels = [
        Panel("A", "optimal beta", "delta = delta'", "beta*"),
        Panel("B", "best achievable bound", "delta = delta'", "bound"),
    ]
    png, data = write_figure(
        "S2", panels, curves, config.out, suptitle="Corollary 1 (B_learn = B_eval = C = 1)"
    )

    claims = []
    log_gap = np.abs(np.log(beta_numerical / beta_star))
    value_gap = (best - grid_min) / grid_min
    claims.append(
        Claim(
            "S2",
            "Corollary 1's beta* minimises Theorem 1's bound: it agrees with the argmin "
            "over a dense beta grid, and the bound there is no larger than the grid minimum.",
            f"max |log(argmin / beta*)| = {fmt(log_gap.max())} against a grid step of "
            f"{fmt(log_step)} ({n_betas} points over 1e-6..1e4); max (bound at beta* - "
            f"grid minimum) / grid minimum = {fmt(value_gap.max())}.",
            bool(log_gap.max() <= log_step and value_gap.max() <= 1e-12),
            {"max_log_gap": float(log_gap.max()), "grid_log_step": float(log_step), "max_value_gap": float(value_gap.max())},
        )
    )
    ratio = best / upper
    claims.append(
        Claim(
            "S2",
            "The best achievable bound is at most B_eval delta' + 2 sqrt(C B_learn (delta + delta')).",
            f"best bound / closed-form ceiling ranges over [{fmt(ratio.min())}, {fmt(ratio.max())}] "
            f"for delta = delta' in [{fmt(deltas[0])}, {fmt(deltas[-1])}].",
            bool(np.all(best <= upper)),
            {"min_ratio": float(ratio.min()), "max_ratio": float(ratio.max())},
        )
    )
    envelope = np.min(np.stack(list(grey.values())), axis=0)
    claims.append(
        Claim(
            "S2",
            "The best bound is the lower envelope of the Theorem 1 curves at fixed beta (grey).",
            f"max best bound / min over the fixed-beta curves = {fmt((best / envelope).max())}.",
            bool(np.all(best <= envelope * (1 + 1e-12))),
            {"max_ratio": float((best / envelope).max())},
        )
    )
    small = deltas <= 1e-4
    slope, _ = loglog_fit(deltas[small], beta_star[small])
    claims.append(
        Claim(
            "S2",
            "For small errors the optimal beta scales as sqrt(delta + delta').",
            f"log-log slope of beta* against delta over [{fmt(deltas[small][0])}, "
            f"{fmt(deltas[small][-1])}]: {slope:.4f} (expected 0.5).",
            abs(slope - 0.5) <= 0.02,
            {"slope": slope},
        )
    )
    return FigureResult(
        name="S2",
        title="Corollary 1",
        description=(
            "(A) Corollary 1's optimal beta against delta = delta', with the argmin of "
            "Theorem 1's bound over a dense beta grid as dots. (B) The best achievable "
            "bound (blue), its closed-form ceiling (red, dashed) and Theorem 1's bound "
            f"at fixed beta = {', '.join(f'{b:g}' for b in GREY_BETAS)} (grey)."
        ),
        png=png,
        data=data,
        claims=claims,
        settings={
            "beta_grid": f"{n_betas} log-spaced values from 1e-06 to 1e+04",
            "delta_grid": f"{n_deltas} log-spaced values from 1e-08 to {MAX_DELTA:g}",
            "grey_betas": GREY_BETAS,
        },
    )
