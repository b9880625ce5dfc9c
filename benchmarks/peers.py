"""Compare the wall time that eqcml, optimistix and jaxopt need to reach a given
meta-gradient error on the Boston learned-L2 problem.

All methods compute the same meta-gradient: the learned-L2 problem on the Boston
data with a tanh MLP of 20 hidden units. They start from the same warm start, the
MLP after L-BFGS has brought the learning loss's gradient norm to `--warm-atol`,
so that every inner solver converges to the same local minimum. Without it, with
seed 0 and `--strength 0.01`, optimistix and jaxopt reached another local minimum
than `optax.lbfgs`, and their meta-gradients differed from the reference by more
than 100%. The reference is the exact
meta-gradient at that minimum (L-BFGS to gradient norm 1e-8, dense Hessian solve).

- `eqcml.Contrastive`: symmetric estimate, both phases run by `optax.lbfgs`
  through `eqcml.OptaxSolver` with gradient-norm tolerance `tol`, and beta taken
  from `--betas`.
- `eqcml.ConjugateGradient`: first phase as above, then conjugate gradients to
  relative residual `tol`.
- optimistix: `optx.minimise` with `optx.LBFGS(rtol=tol, atol=tol)` and
  `optx.ImplicitAdjoint()`, differentiated with `jax.grad`, once with the default
  linear solver (which forms the Hessian densely) and once with
  `lineax.CG(rtol=tol, atol=tol)` and the Hessian tagged positive semidefinite.
- jaxopt: `jaxopt.LBFGS(tol=tol, implicit_diff=True)` with a conjugate-gradient
  implicit solve (`jaxopt.linear_solve.solve_cg`, tolerance `tol`), differentiated
  with `jax.grad`.

Each method walks a ladder of tolerances from loose to tight and stops at the
first configuration whose normalised error is at most `--target`. The
configurations found are compiled, then timed side by side (interleaved, median of
`--repeats` calls), and the script prints the times as ratios to
`eqcml.Contrastive`. Tolerances mean different things in each library, which is
why each method gets its own ladder walk instead of a shared tolerance.

Run from the repository root: `python benchmarks/peers.py` (a few minutes on a
2-core CPU, mostly compilation). Writes `results.json`, `results.csv` and
`times.png` under `--out`.
"""

import argparse
import dataclasses
import functools
import importlib.metadata
import logging
import statistics
import warnings
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import lineax as lx  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import optax  # noqa: E402
import optimistix as optx  # noqa: E402
from tqdm import tqdm  # noqa: E402

with warnings.catch_warnings():
    # jaxopt announces its move into optax when imported.
    warnings.simplefilter("ignore")
    import jaxopt  # noqa: E402

import eqcml  # noqa: E402
from _boston import (  # noqa: E402
    boston_problem,
    exact_reference,
    format_table,
    relative_error,
    settings,
    setup_logging,
    time_call,
)
from eqcml.internal import save_figure, write_csv, write_json  # noqa: E402

logger = logging.getLogger("peers")

BASELINE = "eqcml.Contrastive"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--target", type=float, default=1e-2, help="normalised meta-gradient error to reach")
    add("--tolerances", type=float, nargs="+", default=[1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 3e-7, 1e-7, 3e-8, 1e-8], help="ladder of solver tolerances, loose to tight")
    add("--betas", type=float, nargs="+", default=[1e-2, 1e-3], help="nudging strengths tried by the contrastive rule")
    add("--strength", type=float, default=0.1, help="initial L2 strength of every parameter")
    add("--warm-atol", type=float, default=1e-2, help="gradient norm of the shared warm start")
    add("--max-steps", type=int, default=10_000, help="step limit of every inner solver")
    add("--repeats", type=int, default=20, help="timed calls of each method")
    add("--seed", type=int, default=0, help="seed of the data split and the initialisation")
    add("--out", type=Path, default=Path("runs/peers"), help="output directory")
    return parser.parse_args(argv)


@dataclasses.dataclass(frozen=True)
class Setup:
    """The problem, its slow parameters, the shared warm start and the data."""

    problem: eqcml.Problem
    slow: eqx.Module
    warm: eqx.Module
    data: dict
    max_steps: int

    def losses(self):
        """Return the MLP's float parameters and the learning and evaluation losses as
        functions of them and the slow parameters, for the libraries that optimise
        arrays."""
        params, static = eqx.partition(self.warm, eqx.is_inexact_array)

        def learn(p, slow):
            return self.problem.learn_loss(eqx.combine(p, static), slow, self.data)

        def evaluate(p, slow):
            return self.problem.eval_loss(eqx.combine(p, static), slow, self.data)

        return params, learn, evaluate


def eqcml_method(setup: Setup, estimator):
    grad_fn = eqx.filter_jit(eqcml.meta_grad(setup.problem, estimator, throw=False))
    return lambda: grad_fn(setup.slow, setup.warm, setup.data)


def contrastive(setup: Setup, tol: float, beta: float):
    solver = eqcml.OptaxSolver(optax.lbfgs(), max_steps=setup.max_steps, atol=tol)
    return eqcml_method(setup, eqcml.Contrastive(beta, solver, symmetric=True))


def conjugate_gradient(setup: Setup, tol: float):
    solver = eqcml.OptaxSolver(optax.lbfgs(), max_steps=setup.max_steps, atol=tol)
    estimator = eqcml.ConjugateGradient(solver, max_steps=setup.max_steps, rtol=tol)
    return eqcml_method(setup, estimator)


def optimistix_implicit(setup: Setup, tol: float, matrix_free: bool):
    params, learn, evaluate = setup.losses()
    if matrix_free:
        adjoint = optx.ImplicitAdjoint(
            linear_solver=lx.CG(rtol=tol, atol=tol, max_steps=setup.max_steps)
        )
        # CG needs the Hessian to be declared symmetric positive semidefinite.
        tags = frozenset({lx.symmetric_tag, lx.positive_semidefinite_tag})
    else:
        adjoint, tags = optx.ImplicitAdjoint(), frozenset()

    @jax.jit
    def grad_fn(slow, params):
        def outer(slow):
            solution = optx.minimise(
                learn,
                optx.LBFGS(rtol=tol, atol=tol),
                params,
                args=slow,
                max_steps=setup.max_steps,
                adjoint=adjoint,
                throw=False,
                tags=tags,
            )
            return evaluate(solution.value, slow)

        return jax.grad(outer)(slow)

    return lambda: grad_fn(setup.slow, params)


def jaxopt_implicit(setup: Setup, tol: float):
    params, learn, evaluate = setup.losses()
    solve = functools.partial(jaxopt.linear_solve.solve_cg, tol=tol, maxiter=setup.max_steps)
    solver = jaxopt.LBFGS(
        fun=learn, tol=tol, maxiter=setup.max_steps, implicit_diff=True, implicit_diff_solve=solve
    )

    @jax.jit
    def grad_fn(slow, params):
        return jax.grad(lambda slow: evaluate(solver.run(params, slow).params, slow))(slow)

    return lambda: grad_fn(setup.slow, params)


def methods(args) -> dict[str, list[tuple[str, object]]]:
    """Every method as a list of families: `(label, make)` where `make(setup, tol)`
    builds the meta-gradient call for one rung of the tolerance ladder."""
    return {
        BASELINE: [
            (f"beta={beta:g}", functools.partial(contrastive, beta=beta))
            for beta in args.betas
        ],
        "eqcml.ConjugateGradient": [("", conjugate_gradient)],
        "optimistix ImplicitAdjoint (dense)": [
            ("", functools.partial(optimistix_implicit, matrix_free=False))
        ],
        "optimistix ImplicitAdjoint (lx.CG)": [
            ("", functools.partial(optimistix_implicit, matrix_free=True))
        ],
        "jaxopt LBFGS implicit_diff": [("", jaxopt_implicit)],
    }


def walk_ladder(name, families, setup, reference, args, progress) -> dict:
    """Find, for each family, the loosest tolerance that reaches the target error, and
    keep the fastest of them."""
    ladder_log, candidates = [], []
    for label, make in families:
        for tol in args.tolerances:
            call = make(setup, tol)
            jax.block_until_ready(call())
            error = relative_error(call(), reference.grad)
            seconds = statistics.median(time_call(call) for _ in range(3))
            ladder_log.append({"family": label, "tol": tol, "error": error, "time_s": seconds})
            progress.update()
            logger.info("%s %s tol=%.0e: error %.2e, %.1f ms", name, label, tol, error, seconds * 1e3)
            if error <= args.target:
                candidates.append((seconds, label, tol, error, call))
                break
    if not candidates:
        logger.warning("%s never reached error %.0e on the tolerance ladder", name, args.target)
        return {"ladder": ladder_log, "reached": False}
    _, label, tol, error, call = min(candidates, key=lambda c: c[0])
    return {"ladder": ladder_log, "reached": True, "family": label, "tol": tol, "error": error, "call": call}


def plot(names, medians, path: Path) -> None:
    figure, axis = plt.subplots(figsize=(7, 3))
    axis.barh(names, [medians[n] * 1e3 for n in names])
    axis.set(xlabel="time to the target error (ms, median)", xscale="log")
    axis.grid(True, axis="x", which="both", alpha=0.3)
    save_figure(figure, path)


def main(argv=None) -> dict:
    args = parse_args(argv)
    setup_logging()
    problem, slow, fast, data = boston_problem(args.seed, strength=args.strength)

    logger.info("Warm start: L-BFGS to gradient norm %.0e", args.warm_atol)
    loss = lambda f: problem.learn_loss(f, slow, data)  # noqa: E731
    params, static = eqx.partition(fast, eqx.is_inexact_array)
    warm_solver = eqcml.OptaxSolver(optax.lbfgs(), max_steps=args.max_steps, atol=args.warm_atol)
    warm = warm_solver.solve(lambda p: loss(eqx.combine(p, static)), params)
    warm_fast = eqx.combine(warm.fast, static)
    reference = exact_reference(problem, slow, warm_fast, data)
    logger.info(
        "Warm start after %d steps; reference after %d more L-BFGS steps",
        int(warm.steps), int(reference.free.steps),
    )
    setup = Setup(problem, slow, warm_fast, data, args.max_steps)

    all_methods = methods(args)
    rungs = sum(len(f) for f in all_methods.values()) * len(args.tolerances)
    found = {}
    with tqdm(total=rungs, desc="tolerance ladder", unit="config") as progress:
        for name, families in all_methods.items():
            found[name] = walk_ladder(name, families, setup, reference, args, progress)
    reached = [name for name in all_methods if found[name]["reached"]]

    times = {name: [] for name in reached}
    for _ in tqdm(range(args.repeats), desc="timing", unit="round"):
        for name in reached:
            times[name].append(time_call(found[name]["call"]))
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians.get(BASELINE)

    rows, csv_rows = [], []
    for name in all_methods:
        entry = found[name]
        if not entry["reached"]:
            rows.append([name, "not reached", "-", "-", "-", "-"])
            continue
        ratio = medians[name] / base if base else float("nan")
        config = f"{entry['family']} tol={entry['tol']:g}".strip()
        rows.append([name, config, f"{entry['error']:.2e}", f"{medians[name] * 1e3:.1f}", f"{ratio:.2f}", str(args.repeats)])
        csv_rows.append([name, entry["family"], entry["tol"], entry["error"], medians[name], ratio])
    table = format_table(["method", "configuration", "error", "median ms", f"ratio to {BASELINE}", "repeats"], rows)
    print(table)

    results = {
        "settings": settings(args),
        "device": jax.devices()[0].device_kind,
        "versions": {
            "jax": jax.__version__,
            "eqcml": eqcml.__version__,
            "optimistix": importlib.metadata.version("optimistix"),
            "jaxopt": importlib.metadata.version("jaxopt"),
        },
        "warm_start_steps": int(warm.steps),
        "reference_lbfgs_steps": int(reference.free.steps),
        "methods": {name: {k: v for k, v in entry.items() if k != "call"} for name, entry in found.items()},
        "median_s": medians,
        "table": table,
    }
    write_json(args.out / "results.json", results)
    write_csv(args.out / "results.csv", ["method", "family", "tol", "error", "median_s", "ratio"], csv_rows)
    if reached:
        plot(reached, medians, args.out / "times.png")
    logger.info("Wrote results to %s", args.out)
    return results


if __name__ == "__main__":
    main()
