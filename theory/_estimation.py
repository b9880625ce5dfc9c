"""The three panels of Figures S3 and S4 and the claims they check.

Panel A plots the normalised error of the forward estimate against beta for several
step budgets per phase, and the forward and symmetric estimates with converged
phases. Panel B plots the error against the number of steps per phase for several
beta. Panel C fixes the total number of steps and plots the error against the share
given to the free phase, for several beta.
"""

import dataclasses
import logging

import matplotlib
import numpy as np
import tqdm

from ._figure import (
    argmin_profile,
    Claim,
    Curve,
    fmt,
    fmt_list,
    loglog_fit,
    Panel,
    plateau_width,
)
from ._sweeps import Experiment, run_sweep, Sweep

logger = logging.getLogger(__name__)

# A point enters the slope fit when Theorem 1's solution-error term, estimated from
# the final gradient norms, is below this fraction of the measured error.
NEGLIGIBLE_SOLUTION_ERROR = 0.01
# Panel C: allocations whose error is within this factor of the error with converged
# phases (the finite-difference error) at the same beta form the plateau.
PLATEAU_FACTOR = 1.25
SLOPE_TOLERANCE = 0.1
# A curve "first falls then rises" when its minimum is interior and both ends of the
# grid are at least this factor above it.
MIN_RISE = 1.1


@dataclasses.dataclass(frozen=True)
class Grids:
    """The beta values and step budgets of the three panels.

    - `betas`, `steps`: panel A's beta grid and its step budgets per phase.
    - `converged_steps`: the steps per phase of the converged forward and symmetric
        runs of panel A.
    - `symmetric_max_beta`: the largest beta of the symmetric run; above it the
        phase at `-beta` is no longer a minimisation of a convex loss.
    - `fit_max_beta`: the largest beta of the slope fits.
    - `sweep_betas`, `sweep_steps`: panel B's beta values and steps per phase.
    - `split_betas`, `split_total`, `split_first_steps`: panel C's beta values, total
        budget, and the numbers of free-phase steps.
    """

    betas: np.ndarray
    steps: tuple[int, ...]
    converged_steps: int
    symmetric_max_beta: float
    fit_max_beta: float
    sweep_betas: tuple[float, ...]
    sweep_steps: tuple[int, ...]
    split_betas: tuple[float, ...]
    split_total: int
    split_first_steps: tuple[int, ...]

    def describe(self) -> dict:
        """Return the grids as JSON-ready values."""
        return {
            "panel_a_betas": f"{len(self.betas)} log-spaced values from {self.betas[0]:g} to {self.betas[-1]:g}",
            "panel_a_steps_per_phase": list(self.steps),
            "converged_steps_per_phase": self.converged_steps,
            "symmetric_max_beta": self.symmetric_max_beta,
            "fit_max_beta": self.fit_max_beta,
            "panel_b_betas": list(self.sweep_betas),
            "panel_b_steps_per_phase": list(self.sweep_steps),
            "panel_c_betas": list(self.split_betas),
            "panel_c_total_steps": self.split_total,
            "panel_c_free_steps": list(self.split_first_steps),
        }


@dataclasses.dataclass(frozen=True)
class Measurements:
    """The sweeps behind one figure, keyed by step budget."""

    budgets: dict[int, Sweep]
    converged: Sweep
    symmetric: Sweep
    sweep: dict[int, Sweep]
    split: dict[int, Sweep]
    split_converged: Sweep

    def finite_step_sweeps(self) -> list[Sweep]:
        """Return every forward sweep of panels A, B and C, including panel B's
        largest budget."""
        return [*self.budgets.values(), *self.sweep.values(), *self.split.values()]


def measure(experiment: Experiment, grids: Grids, name: str) -> Measurements:
    """Run every sweep of the three panels, with a progress bar.

    Compilation dominates the cost of a sweep, and a new step budget means a new
    compilation. Panels A and B therefore share one sweep per step budget, and panel
    A's converged run is panel B's largest budget. These sweeps also cover panel C's
    beta values, whose converged errors define panel C's plateau, and serve as
    panel C's even split when its budget is twice a shared step budget.
    """
    betas = np.concatenate([grids.betas, grids.sweep_betas, grids.split_betas])
    in_a = np.arange(len(grids.betas))
    in_b = len(grids.betas) + np.arange(len(grids.sweep_betas))
    in_c = len(grids.betas) + len(grids.sweep_betas) + np.arange(len(grids.split_betas))
    shared_steps = sorted({*grids.steps, *grids.sweep_steps, grids.converged_steps})
    jobs = [("shared", k) for k in shared_steps] + [("symmetric", grids.converged_steps)]
    # An even split of panel C's budget is a shared sweep already.
    even = [k for k in grids.split_first_steps if 2 * k == grids.split_total and k in shared_steps]
    jobs += [("split", k) for k in grids.split_first_steps if k not in even]
    shared, split = {}, {}
    symmetric = None
    for kind, steps in tqdm.tqdm(jobs, desc=f"{name} sweeps", unit="sweep"):
        if kind == "shared":
            sweep = shared[steps] = run_sweep(experiment, betas, steps)
        elif kind == "symmetric":
            symmetric_betas = grids.betas[grids.betas <= grids.symmetric_max_beta]
            sweep = symmetric = run_sweep(experiment, symmetric_betas, steps, symmetric=True)
        else:
            nudged_steps = grids.split_total - steps
            sweep = split[steps] = run_sweep(experiment, np.asarray(grids.split_betas), steps, nudged_steps)
        diverged = int((~sweep.finite).sum())
        if diverged:
            logger.info(
                "%s: %d of %d beta values diverged (%s sweep, %d free steps)",
                name, diverged, len(sweep.betas), kind, steps,
            )
    for k in even:
        split[k] = shared[k].select(in_c)
    return Measurements(
        {k: shared[k].select(in_a) for k in grids.steps},
        shared[grids.converged_steps].select(in_a),
        symmetric,
        {k: shared[k].select(in_b) for k in grids.sweep_steps},
        {k: split[k] for k in grids.split_first_steps},
        shared[grids.converged_steps].select(in_c),
    )


def _fit(sweep: Sweep, experiment: Experiment, fit_max_beta: float) -> dict:
    """Fit the log-log slope of the error on the small-beta points where the
    estimated solution error is negligible."""
    absolute = sweep.error * np.linalg.norm(experiment.exact)
    floor = sweep.solution_error_floor(experiment)
    mask = (
        sweep.finite
        & (sweep.betas <= fit_max_beta)
        & (floor <= NEGLIGIBLE_SOLUTION_ERROR * absolute)
    )
    betas, errors = sweep.betas[mask], sweep.error[mask]
    if len(betas) < 4 or betas[-1] / betas[0] < 10:
        return {"points": int(mask.sum()), "slope": float("nan"), "intercept": float("nan"), "betas": betas}
    slope, intercept = loglog_fit(betas, errors)
    return {"points": int(mask.sum()), "slope": slope, "intercept": intercept, "betas": betas}


def curves(measurements: Measurements, experiment: Experiment, grids: Grids) -> list[Curve]:
    """Build the plotted series of the three panels, with the slope fits of panel A."""
    result = []
    colormap = matplotlib.colormaps["viridis"]
    for i, (steps, sweep) in enumerate(measurements.budgets.items()):
        color = colormap(i / max(len(measurements.budgets) - 1, 1) * 0.9)
        result.append(Curve("A", f"{steps} steps/phase", "beta", sweep.betas, "normalised error", sweep.error, {"color": color}))
    for label, sweep, style in (
        ("converged, forward", measurements.converged, {"color": "k"}),
        ("converged, symmetric", measurements.symmetric, {"color": "k", "linestyle": "--"}),
    ):
        result.append(Curve("A", label, "beta", sweep.betas, "normalised error", sweep.error, style))
        fit = _fit(sweep, experiment, grids.fit_max_beta)
        if np.isfinite(fit["slope"]):
            line = np.exp(fit["intercept"]) * fit["betas"] ** fit["slope"]
            result.append(
                Curve(
                    "A", f"fit, slope {fit['slope']:.2f}", "beta", fit["betas"], "normalised error", line,
                    {"color": "red", "linewidth": 3, "alpha": 0.4},
                )
            )

    steps_b = np.asarray(grids.sweep_steps)
    for i, beta in enumerate(grids.sweep_betas):
        errors = np.asarray([measurements.sweep[k].error[i] for k in grids.sweep_steps])
        result.append(Curve("B", f"beta={beta:g}", "steps per phase", steps_b, "normalised error", errors, {"color": f"C{i}", "marker": "."}))

    shares = np.asarray(grids.split_first_steps) / grids.split_total
    for i, beta in enumerate(grids.split_betas):
        errors = np.asarray([measurements.split[k].error[i] for k in grids.split_first_steps])
        result.append(Curve("C", f"beta={beta:g}", "share of steps in free phase", shares, "normalised error", errors, {"color": f"C{i}", "marker": "."}))
    return result


def panels(total: int) -> list[Panel]:
    """Return the axis specifications of panels A, B and C."""
    return [
        Panel("A", "error vs beta", "beta", "normalised error"),
        Panel("B", "error vs steps per phase", "steps per phase", "normalised error"),
        Panel("C", f"error vs allocation of {total} steps", "share of steps in the free phase", "normalised error", xscale="linear"),
    ]


def claims(name: str, measurements: Measurements, experiment: Experiment, grids: Grids) -> list[Claim]:
    """Check the claims of panels A, B and C against the measurements."""
    return [
        *_claims_a(name, measurements, experiment, grids),
        *_claims_b(name, measurements, grids),
        *_claims_c(name, measurements, grids),
    ]


def _steps(steps) -> str:
    return ", ".join(str(k) for k in steps)


def _claims_a(name, measurements, experiment, grids) -> list[Claim]:
    result = []
    profiles = {k: argmin_profile(s.betas, s.error) for k, s in measurements.budgets.items()}
    rises = [min(p["left_ratio"], p["right_ratio"]) for p in profiles.values()]
    interior = all(p["interior"] for p in profiles.values())
    result.append(
        Claim(
            name,
            "With a fixed number of steps per phase, the error first falls then rises as "
            "beta grows (panel A).",
            f"steps per phase {_steps(profiles)}: minimum error {fmt_list(p['min'] for p in profiles.values())}, "
            f"every argmin interior to the beta grid: {interior}; smallest rise from the "
            f"minimum to an end of the grid: x{fmt(min(rises))}.",
            interior and min(rises) >= MIN_RISE,
            {"profiles": {str(k): p for k, p in profiles.items()}},
        )
    )
    argmins = [p["argmin"] for p in profiles.values()]
    result.append(
        Claim(
            name,
            "The optimal beta moves to smaller values as the number of steps grows (panel A).",
            f"argmin beta for {_steps(profiles)} steps per phase: {fmt_list(argmins)}.",
            len(argmins) >= 2 and bool(np.all(np.diff(argmins) < 0)),
            {"argmin_beta": argmins},
        )
    )
    for sweep, order, label in (
        (measurements.converged, 1, "forward"),
        (measurements.symmetric, 2, "symmetric"),
    ):
        fit = _fit(sweep, experiment, grids.fit_max_beta)
        holds = bool(np.isfinite(fit["slope"]) and abs(fit["slope"] - order) <= SLOPE_TOLERANCE)
        if np.isfinite(fit["slope"]):
            measured = (
                f"log-log slope {fit['slope']:.3f} over {fit['points']} points, beta in "
                f"[{fmt(fit['betas'][0])}, {fmt(fit['betas'][-1])}] (tolerance +-{SLOPE_TOLERANCE})."
            )
        else:
            measured = f"only {fit['points']} points where the solution error is negligible; no fit."
        result.append(
            Claim(
                name,
                f"With converged phases the {label} estimate's error is O(beta^{order}): "
                f"slope {order} on a log-log plot at small beta (panel A).",
                measured,
                holds,
                {"slope": fit["slope"], "points": fit["points"], "betas": fit["betas"].tolist()},
            )
        )
    return result


def _claims_b(name, measurements, grids) -> list[Claim]:
    steps = np.asarray(grids.sweep_steps)
    table = np.stack([measurements.sweep[k].error for k in grids.sweep_steps], axis=1)
    floors = table[:, -1]
    falls = table[:, 0] / floors
    levelled = np.abs(table[:, -1] / table[:, -2] - 1.0) if len(steps) >= 2 else np.full(len(floors), np.inf)
    enough = len(steps) >= 2 and len(floors) >= 2
    result = [
        Claim(
            name,
            "For fixed beta the error falls as the steps per phase grow and levels off at "
            "a floor, the finite-difference error, which is lower for smaller beta (panel B).",
            f"for beta = {fmt_list(grids.sweep_betas)}: floor (error at {steps[-1]} steps) "
            f"{fmt_list(floors)}; fall from {steps[0]} steps x{fmt(falls.min())} or more; "
            f"change over the last two budgets at most {fmt(100 * levelled.max())}%.",
            enough and bool(np.all(falls >= 2) and np.all(levelled <= 0.05) and np.all(np.diff(floors) > 0)),
            {"floors": floors.tolist(), "falls": falls.tolist(), "last_change": levelled.tolist()},
        )
    ]
    reach = [int(steps[np.flatnonzero(row <= 2 * row[-1])[0]]) for row in table]
    result.append(
        Claim(
            name,
            "Smaller beta needs more steps to reach its floor: extra accuracy of the phases "
            "pays off only if beta is lowered with it (panel B).",
            f"first budget within 2x of the floor for beta = {fmt_list(grids.sweep_betas)}: "
            f"{', '.join(str(r) for r in reach)} steps per phase.",
            enough and bool(np.all(np.diff(reach) <= 0) and reach[0] > reach[-1]),
            {"steps_to_floor": reach},
        )
    )
    return result


def _claims_c(name, measurements, grids) -> list[Claim]:
    shares = np.asarray(grids.split_first_steps) / grids.split_total
    table = np.stack([measurements.split[k].error for k in grids.split_first_steps], axis=1)
    betas = np.asarray(grids.split_betas)
    best = np.nanmin(table, axis=1)
    profile = argmin_profile(betas, best)
    result = [
        Claim(
            name,
            f"With a fixed total of {grids.split_total} steps, the best error over "
            "allocations first falls then rises with beta (panel C).",
            f"best error for beta = {fmt_list(betas)}: {fmt_list(best)}; minimised at "
            f"beta = {fmt(profile['argmin'])}, interior: {profile['interior']}.",
            profile["interior"],
            {"best_error": best.tolist(), "argmin_beta": profile["argmin"]},
        )
    ]
    floors = measurements.split_converged.error
    widths = [
        plateau_width(shares, row, PLATEAU_FACTOR * floor)
        for row, floor in zip(table, floors, strict=True)
    ]
    # Order from the largest beta down, the direction in which the plateau shrinks.
    descending = np.argsort(-betas)
    ordered = np.asarray(widths)[descending]
    result.append(
        Claim(
            name,
            "For large beta the error stays at its converged value (the finite-difference "
            "error) over a wide range of allocations; this plateau narrows as beta "
            "decreases and disappears below some beta (panel C).",
            f"width in budget share of the allocations within {PLATEAU_FACTOR}x of the "
            f"converged error, for beta = {fmt_list(betas[descending])}: {fmt_list(ordered)}.",
            bool(np.all(np.diff(ordered) <= 1e-12) and ordered[0] >= 0.25 and ordered[-1] == 0),
            {"beta": betas[descending].tolist(), "plateau_width": ordered.tolist(), "converged_error": floors[descending].tolist()},
        )
    )
    return result
