"""Compare the meta-gradient errors of the contrastive rule, recurrent backpropagation
and conjugate gradients on the Boston learned-L2 problem, and the Hessian spectrum
behind them.

The problem learns one L2 strength per parameter of a tanh MLP (20 hidden units)
fitted to 70% of the Boston housing rows, with the mean squared error on the other
30% as evaluation loss. The reference is the exact meta-gradient at the inner
minimum found by L-BFGS (gradient norm `--reference-atol`), from a dense Hessian
solve. The normalised error of an estimate is `||estimate - exact|| / ||exact||`.

- S5A: error against the number K of second-phase steps, the first phase solved
  exactly (the second phase starts from the reference minimum).
- S5B: error against the number N of steps of both phases: N steps of Nesterov
  momentum SGD from the initial MLP, then N second-phase steps.
- S5C: error against the share of a fixed budget of `--budget` steps given to the
  first phase.
- S6A: the spectrum of the learning-loss Hessian at the reference minimum.
- S6B: its smallest and largest eigenvalue after T first-phase steps.

The panels follow Figures S5 and S6 of the supplementary material of Zucchet,
Schug, von Oswald, Zhao and Sacramento, "A contrastive rule for meta-learning",
NeurIPS 2022.

The default initial L2 strength of 0.1 gives, with seed 0, a positive definite
Hessian at the minimum with eigenvalues from 0.018 to 9.0 (condition number about
500), and the first phase of S5B converges within its largest step count. With
`--strength 0.01` the eigenvalues range from 0.0017 to 27.8 (condition number
about 17,000), 1000 steps of Nesterov SGD leave the Hessian indefinite, and the
step sizes must shrink with the larger curvature, for example `--first-lr 0.02
--lrs 0.005 0.01 0.02 0.04 --alphas 0.005 0.01 0.02 0.035 0.05 0.07`.

Each method runs a second phase of K steps from the same first-phase solution.
CML is `eqcml.Contrastive`, with the forward estimate (or the symmetric one with
`--symmetric`) and a nudged phase of Nesterov momentum SGD. RBP is
`eqcml.Neumann` (recurrent backpropagation). CG is `eqcml.ConjugateGradient`
without a tolerance, so it runs exactly K steps. For each K the
error reported is the smallest over a grid of hyperparameters: beta, learning rate
and momentum for the contrastive rule, the step size alpha for the Neumann series,
none for conjugate gradients. The hyperparameters are traced arguments, so each
grid is one vmapped computation and each K compiles once per method.

Run from the repository root: `python benchmarks/boston_s5_s6.py` (`--quick` for a
smoke run of about two minutes on a 2-core CPU). Writes `results.json`,
`results.csv`, `s5.png` and `s6.png` under `--out`; completed cases are kept in
`checkpoint.json` there, and a rerun with the same settings resumes from it.
"""

import argparse
import itertools
import json
import logging
import math
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402
from tqdm import tqdm  # noqa: E402

import eqcml  # noqa: E402
from _boston import (  # noqa: E402
    boston_problem,
    exact_reference,
    float_leaves,
    format_table,
    settings,
    setup_logging,
)
from eqcml.internal import save_figure, write_csv, write_json  # noqa: E402

logger = logging.getLogger("boston_s5_s6")

METHODS = ("CML", "RBP", "CG")

QUICK = {
    "second_steps": [1, 10, 100],
    "both_steps": [10, 100],
    "first_steps": [15, 45, 65],
    "eigen_steps": [0, 10, 100, 1000],
    "betas": [1e-3, 1e-1],
    "lrs": [0.05, 0.1],
    "momenta": [0.9],
    "alphas": [0.05, 0.15],
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--strength", type=float, default=0.1, help="initial L2 strength of every parameter")
    add("--width", type=int, default=20, help="hidden units of the MLP")
    add("--reference-atol", type=float, default=1e-8, help="gradient norm of the exact reference's L-BFGS solve")
    add("--first-lr", type=float, default=0.1, help="learning rate of the first phase (Nesterov SGD, momentum 0.9)")
    add("--second-steps", type=int, nargs="+", default=[1, 3, 10, 30, 100, 300, 1000], help="S5A: second-phase steps K")
    add("--both-steps", type=int, nargs="+", default=[10, 30, 100, 300, 1000], help="S5B: steps N of each phase")
    add("--budget", type=int, default=75, help="S5C: total steps of both phases")
    add("--first-steps", type=int, nargs="+", default=[5, 15, 30, 45, 60, 65, 72], help="S5C: first-phase steps")
    add("--eigen-steps", type=int, nargs="+", default=[0, 1, 3, 10, 30, 100, 300, 1000, 3000], help="S6B: first-phase steps")
    add("--betas", type=float, nargs="+", default=[1e-4, 1e-3, 1e-2, 1e-1, 1.0], help="CML grid: beta")
    add("--lrs", type=float, nargs="+", default=[0.02, 0.05, 0.1, 0.14], help="CML grid: second-phase learning rate")
    add("--momenta", type=float, nargs="+", default=[0.9, 0.99], help="CML grid: Nesterov momentum")
    add("--alphas", type=float, nargs="+", default=[0.02, 0.05, 0.1, 0.15, 0.2], help="RBP grid: step size")
    add("--symmetric", action="store_true", help="use the symmetric contrastive estimate (2K second-phase steps)")
    add("--quick", action="store_true", help="small grids and few step counts, for a smoke run")
    add("--fresh", action="store_true", help="ignore an existing checkpoint")
    add("--seed", type=int, default=0, help="seed of the data split and the initialisation")
    add("--out", type=Path, default=Path("runs/boston_s5_s6"), help="output directory")
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    if any(not 0 < t < args.budget for t in args.first_steps):
        parser.error(f"--first-steps must lie strictly between 0 and --budget ({args.budget}).")
    return args


def hyperparameter_grids(args) -> dict[str, list[tuple[float, ...]]]:
    return {
        "CML": list(itertools.product(args.betas, args.lrs, args.momenta)),
        "RBP": [(a,) for a in args.alphas],
        "CG": [()],
    }


HYPERPARAMETER_NAMES = {"CML": ("beta", "lr", "momentum"), "RBP": ("alpha",), "CG": ()}


class ErrorFunctions:
    """Compiled functions `(grid, start) -> errors`, one per method and number K of
    second-phase steps: the normalised errors of the method's meta-gradient from the
    first-phase solution `start`, for every hyperparameter row of `grid`."""

    def __init__(self, problem, slow, data, reference, args):
        self.problem, self.slow, self.data = problem, slow, data
        self.reference = reference
        self.symmetric = args.symmetric
        self.cache = {}

    def estimator(self, method: str, steps: int, hyper) -> eqcml.AbstractEstimator:
        no_first_phase = eqcml.OptaxSolver(optax.sgd(0.0), max_steps=0)
        if method == "CML":
            beta, lr, momentum = hyper
            optimizer = optax.sgd(lr, momentum=momentum, nesterov=True)
            nudged = eqcml.OptaxSolver(optimizer, max_steps=steps)
            return eqcml.Contrastive(
                beta, no_first_phase, nudged_solver=nudged, symmetric=self.symmetric
            )
        if method == "RBP":
            (alpha,) = hyper
            return eqcml.Neumann(alpha, steps, no_first_phase)
        return eqcml.ConjugateGradient(no_first_phase, max_steps=steps, rtol=0.0, atol=0.0)

    def __call__(self, method: str, steps: int, grid, start) -> np.ndarray:
        key = (method, steps)
        if key not in self.cache:

            def errors(grid, start):
                def one(hyper):
                    estimator = self.estimator(method, steps, tuple(hyper))
                    grad_fn = eqcml.meta_grad(self.problem, estimator, throw=False)
                    estimate = float_leaves(grad_fn(self.slow, start, self.data))
                    difference = jnp.linalg.norm(estimate - self.reference)
                    return difference / jnp.linalg.norm(self.reference)

                return jax.vmap(one)(grid)

            self.cache[key] = eqx.filter_jit(errors)
        # Rows of hyperparameters: shape (grid size, 0) for conjugate gradients.
        grid = jnp.asarray(np.asarray(grid, dtype=float))
        return np.asarray(self.cache[key](grid, start))


class Checkpoint:
    """Completed cases, saved atomically after each one and reloaded when the
    settings match."""

    def __init__(self, path: Path, run_settings: dict, fresh: bool):
        self.path, self.settings, self.cases = path, run_settings, {}
        if path.exists() and not fresh:
            saved = json.loads(path.read_text())
            if saved["settings"] == run_settings:
                self.cases = saved["cases"]
                logger.info("Resuming from %s with %d completed cases", path, len(self.cases))
            else:
                logger.info("Ignoring %s: it was written with other settings", path)

    def get(self, key: str):
        return self.cases.get(key)

    def put(self, key: str, value) -> None:
        self.cases[key] = value
        write_json(self.path, {"settings": self.settings, "cases": self.cases})


def first_phase_snapshots(problem, slow, fast, data, lr: float, steps: set[int]) -> dict[int, eqx.Module]:
    """Run Nesterov momentum SGD on the learning loss from `fast` and return the MLP
    after each number of steps in `steps`."""
    params, static = eqx.partition(fast, eqx.is_inexact_array)
    optimizer = optax.sgd(lr, momentum=0.9, nesterov=True)

    @jax.jit
    def step(params, state):
        grad = jax.grad(lambda p: problem.learn_loss(eqx.combine(p, static), slow, data))(params)
        updates, state = optimizer.update(grad, state, params)
        return optax.apply_updates(params, updates), state

    snapshots, state = {}, optimizer.init(params)
    for t in tqdm(range(max(steps) + 1), desc="first phase", unit="step", leave=False):
        if t in steps:
            snapshots[t] = eqx.combine(params, static)
        if t < max(steps):
            params, state = step(params, state)
    return snapshots


def hessian_function(problem, slow, data):
    """A compiled function from an MLP to the eigenvalues of the learning loss's
    Hessian in its floating-point parameters."""

    @eqx.filter_jit
    def eigenvalues(fast):
        params, static = eqx.partition(fast, eqx.is_inexact_array)
        flat, unravel = ravel_pytree(params)

        def loss(x):
            return problem.learn_loss(eqx.combine(unravel(x), static), slow, data)

        return jnp.linalg.eigvalsh(jax.hessian(loss)(flat))

    return eigenvalues


def best_over_grid(errors: list[float], grid) -> tuple[float, tuple]:
    values = np.asarray(errors, dtype=float)
    if np.all(np.isnan(values)):
        return math.nan, ()
    index = int(np.nanargmin(values))
    return float(values[index]), tuple(grid[index])


def run_panel(name, cases, error_functions, grids, checkpoint, progress) -> dict:
    """Evaluate every method on the cases `(x, start_key, start, steps)` of one panel."""
    panel = {method: {"x": [], "best": [], "best_hyperparameters": [], "grid_errors": []} for method in METHODS}
    for x, start_key, start, steps in cases:
        for method in METHODS:
            key = f"{method}|K={steps}|start={start_key}"
            errors = checkpoint.get(key)
            if errors is None:
                errors = error_functions(method, steps, grids[method], start).tolist()
                checkpoint.put(key, errors)
            best, hyper = best_over_grid(errors, grids[method])
            record = panel[method]
            record["x"].append(x)
            record["best"].append(best)
            record["best_hyperparameters"].append(dict(zip(HYPERPARAMETER_NAMES[method], hyper, strict=True)))
            record["grid_errors"].append(errors)
            progress.update()
            logger.info("%s %s x=%s: best error %.3e at %s", name, method, x, best, hyper)
    return panel


def plot_s5(panels: dict, args, path: Path) -> None:
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    titles = {
        "S5A": ("second-phase steps K (exact first phase)", "log"),
        "S5B": ("steps N of each phase", "log"),
        "S5C": (f"share of a {args.budget}-step budget in the first phase", "linear"),
    }
    for axis, (panel, (label, xscale)) in zip(axes, titles.items(), strict=True):
        for method, marker in zip(METHODS, "osd", strict=True):
            record = panels[panel][method]
            axis.plot(record["x"], record["best"], f"-{marker}", label=method)
        axis.set(xscale=xscale, yscale="log", xlabel=label, ylabel="normalised error", title=panel)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    save_figure(figure, path)


def plot_s6(spectrum: np.ndarray, extremes: dict, path: Path) -> None:
    # A symmetric-log axis, linear within 1e-3 of zero, shows the sign of the
    # smallest eigenvalue and the orders of magnitude on either side of zero.
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].plot(np.arange(1, spectrum.size + 1), np.sort(spectrum), ".")
    axes[0].set_yscale("symlog", linthresh=1e-3)
    axes[0].set(xlabel="index", ylabel="eigenvalue", title="S6A: Hessian spectrum at the minimum")
    steps = extremes["steps"]
    axes[1].plot(steps, extremes["smallest"], "-o", label="smallest")
    axes[1].plot(steps, extremes["largest"], "-s", label="largest")
    axes[1].axhline(0.0, color="k", lw=0.8)
    axes[1].set_xscale("symlog", linthresh=1)
    axes[1].set_yscale("symlog", linthresh=1e-3)
    axes[1].set_xlim(left=0)
    axes[1].set(
        xlabel="first-phase steps T", ylabel="eigenvalue",
        title="S6B: extreme eigenvalues along the first phase",
    )
    for axis in axes:
        axis.grid(True, which="both", alpha=0.3)
    axes[1].legend()
    save_figure(figure, path)


def main(argv=None) -> dict:
    args = parse_args(argv)
    setup_logging()
    run_settings = {k: v for k, v in settings(args).items() if k != "fresh"}
    problem, slow, fast, data = boston_problem(args.seed, width=args.width, strength=args.strength)

    logger.info("Computing the exact reference with L-BFGS to gradient norm %.0e", args.reference_atol)
    reference = exact_reference(problem, slow, fast, data, atol=args.reference_atol)
    minimum = reference.free.fast
    exact = float_leaves(reference.grad)
    logger.info(
        "Reference: %d L-BFGS steps, gradient norm %.2e, |meta-gradient| %.3e",
        int(reference.free.steps), float(reference.free.grad_norm), float(jnp.linalg.norm(exact)),
    )

    needed = set(args.both_steps) | set(args.first_steps) | set(args.eigen_steps)
    snapshots = first_phase_snapshots(problem, slow, fast, data, args.first_lr, needed)

    eigenvalues = hessian_function(problem, slow, data)
    spectrum = np.asarray(eigenvalues(minimum))
    extremes = {"steps": sorted(args.eigen_steps), "smallest": [], "largest": []}
    for t in extremes["steps"]:
        values = np.asarray(eigenvalues(snapshots[t]))
        extremes["smallest"].append(float(values[0]))
        extremes["largest"].append(float(values[-1]))

    grids = hyperparameter_grids(args)
    error_functions = ErrorFunctions(problem, slow, data, exact, args)
    checkpoint = Checkpoint(args.out / "checkpoint.json", run_settings, args.fresh)
    cases = {
        "S5A": [(k, "minimum", minimum, k) for k in args.second_steps],
        "S5B": [(n, f"T={n}", snapshots[n], n) for n in args.both_steps],
        "S5C": [(t / args.budget, f"T={t}", snapshots[t], args.budget - t) for t in args.first_steps],
    }
    total = sum(len(c) for c in cases.values()) * len(METHODS)
    with tqdm(total=total, desc="cases", unit="case") as progress:
        panels = {
            name: run_panel(name, panel_cases, error_functions, grids, checkpoint, progress)
            for name, panel_cases in cases.items()
        }

    tables, csv_rows = [], []
    for name, panel in panels.items():
        xs = panel[METHODS[0]]["x"]
        header = [name] + [f"{x:.3g}" for x in xs]
        rows = [[method] + [f"{e:.2e}" for e in panel[method]["best"]] for method in METHODS]
        tables.append(format_table(header, rows))
        for method in METHODS:
            record = panel[method]
            for x, best, hyper in zip(record["x"], record["best"], record["best_hyperparameters"], strict=True):
                csv_rows.append([name, x, method, best, json.dumps(hyper)])
    extremes_rows = [
        [str(t), f"{lo:.3e}", f"{hi:.3e}"]
        for t, lo, hi in zip(extremes["steps"], extremes["smallest"], extremes["largest"], strict=True)
    ]
    tables.append(format_table(["S6B: first-phase steps", "smallest eigenvalue", "largest eigenvalue"], extremes_rows))
    text = "\n\n".join(tables)
    print(text)
    print(f"\nS6A: eigenvalues at the minimum lie in [{spectrum[0]:.3e}, {spectrum[-1]:.3e}]")

    results = {
        "settings": run_settings,
        "device": jax.devices()[0].device_kind,
        "jax_version": jax.__version__,
        "reference": {
            "lbfgs_steps": int(reference.free.steps),
            "grad_norm": float(reference.free.grad_norm),
            "meta_gradient_norm": float(jnp.linalg.norm(exact)),
        },
        "hyperparameter_grids": {m: [list(h) for h in g] for m, g in grids.items()},
        "panels": panels,
        "s6a_eigenvalues": spectrum.tolist(),
        "s6b_extremes": extremes,
        "tables": text,
    }
    write_json(args.out / "results.json", results)
    write_csv(args.out / "results.csv", ["panel", "x", "method", "best_error", "best_hyperparameters"], csv_rows)
    plot_s5(panels, args, args.out / "s5.png")
    plot_s6(spectrum, extremes, args.out / "s6.png")
    logger.info("Wrote results to %s", args.out)
    return results


if __name__ == "__main__":
    main()
