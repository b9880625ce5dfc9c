"""Measure the memory and time of one meta-gradient of every estimator as the number
of inner steps T grows.

Every estimator computes one meta-gradient of the Boston learned-L2 problem (tanh
MLP, `--width` hidden units) with a fixed budget: T steps of Nesterov momentum SGD
in the first phase (or in the unrolled loop) and K = `--second-steps` steps in the
second phase of the contrastive rule, conjugate gradients and the Neumann series.
The equilibrium estimators learn the L2 strengths. The unrolled estimators learn
the L2 strengths and the initialisation, which they all need to produce a nonzero
gradient (`init=lambda slow, fast_init: slow["init"]`).

The expected pattern is the memory column of Table S1 in the supplementary
material of Zucchet et al., "A contrastive rule for meta-learning", NeurIPS 2022:
O(|phi| + |theta|) for the equilibrium methods, O(T |phi|) for backpropagation
through learning and O(K |phi|) for its truncated version.

Memory is XLA's compile-time analysis of the jitted computation
(`jax.jit(f).lower(...).compile().memory_analysis()`): `temp` is the scratch
memory, and `peak` = temp + arguments + outputs - aliased bytes. Both are
reported as ratios to the smallest T. Time is the median wall time of
`--repeats` calls after compilation.

Run from the repository root: `python benchmarks/table_s1_memory.py` (about two
minutes on a 2-core CPU). Writes `results.json`, `results.csv` and `memory.png`
under `--out`.
"""

import argparse
import logging
import statistics
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import optax  # noqa: E402
from tqdm import tqdm  # noqa: E402

import eqcml  # noqa: E402
from _boston import (  # noqa: E402
    boston_problem,
    compile_call,
    float_leaves,
    format_table,
    settings,
    setup_logging,
    time_call,
)
from eqcml.internal import save_figure, write_csv, write_json  # noqa: E402

logger = logging.getLogger("table_s1_memory")

EQUILIBRIUM = ("Contrastive", "ConjugateGradient", "Neumann", "T1T2", "Exact")
UNROLLED = ("Unrolled", "TruncatedUnrolled", "FirstOrderUnrolled", "Reptile")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 100, 1000], help="numbers of inner steps T")
    parser.add_argument("--second-steps", type=int, default=100, help="second-phase steps K of CML, CG and Neumann")
    parser.add_argument("--truncation", type=int, default=10, help="backpropagated steps of TruncatedUnrolled")
    parser.add_argument("--width", type=int, default=20, help="hidden units of the MLP")
    parser.add_argument("--lr", type=float, default=0.02, help="learning rate of the Nesterov SGD inner optimiser")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per estimator and T")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data split and the initialisation")
    parser.add_argument("--out", type=Path, default=Path("runs/table_s1_memory"), help="output directory")
    return parser.parse_args(argv)


def from_init(slow, fast_init):
    del fast_init
    return slow["init"]


def build_estimator(name: str, steps: int, args) -> eqcml.AbstractEstimator:
    optimizer = optax.sgd(args.lr, momentum=0.9, nesterov=True)
    first = eqcml.OptaxSolver(optimizer, max_steps=steps)
    second = args.second_steps
    if name == "Contrastive":
        nudged = eqcml.OptaxSolver(optimizer, max_steps=second)
        return eqcml.Contrastive(1e-3, first, nudged_solver=nudged)
    if name == "ConjugateGradient":
        return eqcml.ConjugateGradient(first, max_steps=second, rtol=0.0)
    if name == "Neumann":
        return eqcml.Neumann(args.lr, second, first)
    if name == "T1T2":
        return eqcml.T1T2(first)
    if name == "Exact":
        return eqcml.Exact(first)
    if name == "Unrolled":
        return eqcml.Unrolled(optimizer, steps, init=from_init)
    if name == "TruncatedUnrolled":
        truncation = min(args.truncation, steps)
        return eqcml.TruncatedUnrolled(optimizer, steps, truncation, init=from_init)
    if name == "FirstOrderUnrolled":
        return eqcml.FirstOrderUnrolled(optimizer, steps, init=from_init)
    if name == "Reptile":
        return eqcml.Reptile(optimizer, steps, init=from_init)
    raise ValueError(f"Unknown estimator {name!r}.")


def with_learned_init(problem: eqcml.Problem) -> eqcml.Problem:
    """Rewrap the losses to take slow parameters `{"l2": ..., "init": ...}`."""
    return eqcml.Problem(
        lambda fast, slow, data: problem.learn_loss(fast, slow["l2"], data),
        lambda fast, slow, data: problem.eval_loss(fast, slow["l2"], data),
    )


def measure(name: str, steps: int, args, problems) -> dict:
    problem, slow, fast, data = problems[name in UNROLLED]
    grad_fn = eqcml.meta_grad(problem, build_estimator(name, steps, args), throw=False)
    compiled, arrays = compile_call(grad_fn, slow, fast, data)
    memory = compiled.memory_analysis()
    peak = (
        memory.temp_size_in_bytes
        + memory.argument_size_in_bytes
        + memory.output_size_in_bytes
        - memory.alias_size_in_bytes
    )
    jax.block_until_ready(compiled(arrays))
    times = [time_call(compiled, arrays) for _ in range(args.repeats)]
    return {
        "estimator": name,
        "steps": steps,
        "temp_bytes": int(memory.temp_size_in_bytes),
        "argument_bytes": int(memory.argument_size_in_bytes),
        "output_bytes": int(memory.output_size_in_bytes),
        "peak_bytes": int(peak),
        "time_s": statistics.median(times),
    }


def plot(rows: list[dict], steps: list[int], path: Path) -> None:
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name in (*EQUILIBRIUM, *UNROLLED):
        mine = [r for r in rows if r["estimator"] == name]
        style = "-o" if name in EQUILIBRIUM else "--s"
        axes[0].plot(steps, [r["peak_bytes"] / 2**20 for r in mine], style, label=name)
        axes[1].plot(steps, [r["time_s"] * 1e3 for r in mine], style, label=name)
    for axis, label in zip(axes, ("peak memory (MiB, XLA analysis)", "time (ms, median)"), strict=True):
        axis.set(xscale="log", yscale="log", xlabel="inner steps T", ylabel=label)
        axis.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle("One meta-gradient on the Boston learned-L2 problem")
    save_figure(figure, path)


def main(argv=None) -> dict:
    args = parse_args(argv)
    setup_logging()
    steps = sorted(args.steps)
    problem, slow, fast, data = boston_problem(args.seed, width=args.width)
    problems = {
        False: (problem, slow, fast, data),
        True: (with_learned_init(problem), {"l2": slow, "init": fast}, fast, data),
    }

    rows = []
    cases = [(name, t) for name in (*EQUILIBRIUM, *UNROLLED) for t in steps]
    for name, t in tqdm(cases, desc="estimators", unit="case"):
        rows.append(measure(name, t, args, problems))
        logger.info(
            "%s T=%d: peak %.2f MiB, %.1f ms",
            name, t, rows[-1]["peak_bytes"] / 2**20, rows[-1]["time_s"] * 1e3,
        )

    base = {r["estimator"]: r for r in rows if r["steps"] == steps[0]}
    for row in rows:
        first = base[row["estimator"]]
        row["temp_ratio"] = row["temp_bytes"] / max(first["temp_bytes"], 1)
        row["peak_ratio"] = row["peak_bytes"] / first["peak_bytes"]
        row["time_ratio"] = row["time_s"] / first["time_s"]

    header = ["estimator"] + [f"peak MiB T={t}" for t in steps]
    header += [f"peak ratio T={steps[-1]}", f"temp ratio T={steps[-1]}"]
    header += [f"ms T={t}" for t in steps]
    table_rows = []
    for name in (*EQUILIBRIUM, *UNROLLED):
        mine = [r for r in rows if r["estimator"] == name]
        last = mine[-1]
        table_rows.append(
            [name]
            + [f"{r['peak_bytes'] / 2**20:.2f}" for r in mine]
            + [f"{last['peak_ratio']:.2f}", f"{last['temp_ratio']:.2f}"]
            + [f"{r['time_s'] * 1e3:.1f}" for r in mine]
        )
    table = format_table(header, table_rows)
    print(table)

    results = {
        "settings": settings(args),
        "device": jax.devices()[0].device_kind,
        "jax_version": jax.__version__,
        "fast_parameters": int(float_leaves(fast).size),
        "rows": rows,
        "table": table,
    }
    write_json(args.out / "results.json", results)
    columns = list(rows[0])
    write_csv(args.out / "results.csv", columns, [[r[c] for c in columns] for r in rows])
    plot(rows, steps, args.out / "memory.png")
    logger.info("Wrote results to %s", args.out)
    return results


if __name__ == "__main__":
    main()
