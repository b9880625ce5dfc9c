"""Figure S1: Theorem 1's bound as a function of beta and of the solution errors.

Theorem 1 bounds the error of the forward contrastive estimate by
`B(delta, delta', beta) = B_learn (delta + delta') / beta + B_eval delta' + C beta / (1 + beta)`,
where `delta` and `delta'` are the distances of the free and nudged solutions to the
exact minimisers. The figure plots the bound with `C = 1`.
"""

import numpy as np

from eqcml.theory import theorem1_bound

from ._figure import (
    argmin_profile,
    Claim,
    Curve,
    FigureResult,
    fmt,
    fmt_list,
    Panel,
    RunConfig,
    write_figure,
)

DELTAS = (1e-4, 1e-3, 1e-2, 1e-1)
PANEL_B_DELTA_PRIME = 1e-2
PANEL_C_BETAS = (1e-3, 1e-2, 1e-1, 1.0)
# A curve "rises away from its minimum" when both ends of the grid are at least this
# factor above it.
MIN_RISE = 1.1


def _bound(delta, delta_prime, beta, b_eval=1.0) -> np.ndarray:
    return np.asarray(theorem1_bound(delta, delta_prime, beta, b_learn=1.0, b_eval=b_eval, c=1.0))


def run(config: RunConfig) -> FigureResult:
    """Compute the bound on three grids, draw Figure S1 and check its claims."""
    points = 100 if config.quick else 300
    betas = np.logspace(-4, 3, points)
    deltas = np.logspace(-10, -1, points)
    colors = [f"C{i}" for i in range(len(DELTAS))]
    curves = []

    panel_a = {d: _bound(d, d, betas) for d in DELTAS}
    panel_b = {d: _bound(d, PANEL_B_DELTA_PRIME, betas, b_eval=0.0) for d in DELTAS}
    panel_c = {b: _bound(deltas, deltas, b) for b in PANEL_C_BETAS}
    for color, d in zip(colors, DELTAS, strict=True):
        curves.append(Curve("A", f"delta=delta'={d:g}", "beta", betas, "bound", panel_a[d], {"color": color}))
        curves.append(Curve("B", f"delta={d:g}", "beta", betas, "bound", panel_b[d], {"color": color}))
    for color, b in zip(colors, PANEL_C_BETAS, strict=True):
        curves.append(Curve("C", f"beta={b:g}", "delta", deltas, "bound", panel_c[b], {"color": color}))

    panels = [
        Panel("A", "bound vs beta, delta = delta'", "beta", "Theorem 1 bound"),
        Panel("B", f"bound vs beta, delta' = {PANEL_B_DELTA_PRIME:g}, B_eval = 0", "beta", "Theorem 1 bound"),
        Panel("C", "bound vs delta = delta'", "delta = delta'", "Theorem 1 bound"),
    ]
    png, data = write_figure(
        "S1", panels, curves, config.out, suptitle="Theorem 1 bound (B_learn = 1, C = 1)"
    )
    claims = _claims(betas, deltas, panel_a, panel_b, panel_c)
    return FigureResult(
        name="S1",
        title="Theorem 1's bound",
        description=(
            "Theorem 1's bound with C = 1 and B_learn = 1: (A) against beta for several "
            "delta = delta' with B_eval = 1; (B) against beta for several delta with "
            f"delta' = {PANEL_B_DELTA_PRIME:g} and B_eval = 0; (C) against delta = delta' "
            "for several beta with B_eval = 1."
        ),
        png=png,
        data=data,
        claims=claims,
        settings={
            "beta_grid": f"{points} log-spaced values from {betas[0]:g} to {betas[-1]:g}",
            "delta_grid": f"{points} log-spaced values from {deltas[0]:g} to {deltas[-1]:g}",
            "deltas": DELTAS,
            "panel_c_betas": PANEL_C_BETAS,
        },
    )


def _claims(betas, deltas, panel_a, panel_b, panel_c) -> list[Claim]:
    claims = []

    profiles = {
        f"{key}, delta={d:g}": argmin_profile(betas, curve)
        for key, panel in (("A", panel_a), ("B", panel_b))
        for d, curve in panel.items()
    }
    worst_rise = min(min(p["left_ratio"], p["right_ratio"]) for p in profiles.values())
    interior = all(p["interior"] for p in profiles.values())
    claims.append(
        Claim(
            "S1",
            "For fixed solution errors the bound is smallest at an intermediate beta and "
            "rises when beta moves away from it in either direction (panels A, B).",
            f"argmin beta per curve: {fmt_list(p['argmin'] for p in profiles.values())}; "
            f"every argmin is interior: {interior}; smallest rise from the minimum to "
            f"either end of the beta grid: x{fmt(worst_rise)}.",
            interior and worst_rise >= MIN_RISE,
            {"profiles": profiles},
        )
    )

    limits = {f"A, delta={d:g}": 1.0 + d for d in panel_a} | {
        f"B, delta={d:g}": 1.0 for d in panel_b
    }
    finals = [c[-1] for c in panel_a.values()] + [c[-1] for c in panel_b.values()]
    ratios = np.asarray(finals) / np.asarray(list(limits.values()))
    claims.append(
        Claim(
            "S1",
            "For large beta the bound saturates at its limit B_eval delta' + C (panels A, B).",
            f"bound at beta = {fmt(betas[-1])} divided by the limit: between "
            f"{fmt(ratios.min())} and {fmt(ratios.max())}.",
            bool(np.all(np.abs(ratios - 1.0) <= 0.01)),
            {"ratios": dict(zip(limits, ratios.tolist(), strict=True))},
        )
    )

    floors = {b: b / (1.0 + b) for b in panel_c}
    decreasing = all(bool(np.all(np.diff(c) > 0)) for c in panel_c.values())
    floor_ratio = [float(c[0] / floors[b]) for b, c in panel_c.items()]
    claims.append(
        Claim(
            "S1",
            "For fixed beta, smaller solution errors lower the bound, down to the "
            "finite-difference floor C beta / (1 + beta) (panel C).",
            f"bound increasing in delta on every curve: {decreasing}; bound at "
            f"delta = {fmt(deltas[0])} over the floor, for beta = {fmt_list(panel_c)}: "
            f"{fmt_list(floor_ratio)}.",
            decreasing and all(abs(r - 1.0) <= 0.01 for r in floor_ratio),
            {"floor_ratio": floor_ratio},
        )
    )

    # The delta below which the bound stays within twice its floor: past it, better
    # solutions buy almost nothing unless beta is lowered as well.
    saturation = [float(deltas[np.flatnonzero(c <= 2 * floors[b])[-1]]) for b, c in panel_c.items()]
    claims.append(
        Claim(
            "S1",
            "The solution error below which further accuracy stops paying off grows "
            "with beta (panel C).",
            f"largest delta with bound <= 2 x floor, for beta = {fmt_list(panel_c)}: "
            f"{fmt_list(saturation)}.",
            bool(np.all(np.diff(saturation) > 0)),
            {"saturation_delta": saturation},
        )
    )
    return claims
