"""Measure eqcml's overhead against the same optimiser steps written by hand.

One jitted `eqcml.contrastive_grad` call on the Boston learned-L2 problem (tanh MLP,
20 hidden units) runs a free phase of T steps and a nudged phase of K steps with a
fixed budget. The baseline is the same computation written directly: two
`jax.lax.scan` loops of the same optax optimiser and the gradient of the difference
of augmented losses. Both are compiled first, then timed alternately, and the
script prints the ratio of the medians (target: at most 1.10).

Run from the repository root: `python benchmarks/overhead.py` (about a minute on a
2-core CPU).
"""

import argparse
import logging
import statistics
import time
from pathlib import Path

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.flatten_util import ravel_pytree  # noqa: E402
from tqdm import tqdm  # noqa: E402

import eqcml  # noqa: E402
from eqcml.internal import write_json  # noqa: E402

logger = logging.getLogger("overhead")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--free-steps", type=int, default=1000, help="steps of the free phase (T)")
    parser.add_argument("--nudged-steps", type=int, default=500, help="steps of the nudged phase (K)")
    parser.add_argument("--beta", type=float, default=1e-2, help="nudging strength")
    parser.add_argument("--repeats", type=int, default=30, help="timed calls of each implementation")
    parser.add_argument("--float32", action="store_true", help="run in float32 instead of float64")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the initialisation")
    parser.add_argument("--out", type=Path, default=Path("runs/overhead"), help="output directory")
    return parser.parse_args(argv)


def hand_written(problem, optimizer, free_steps, nudged_steps, beta):
    """Build the contrastive meta-gradient with plain `lax.scan` loops and no checks."""

    def run(loss, fast, steps):
        def step(carry, _):
            fast, state = carry
            updates, state = optimizer.update(jax.grad(loss)(fast), state, fast)
            return (optax.apply_updates(fast, updates), state), None

        (fast, _), _ = jax.lax.scan(step, (fast, optimizer.init(fast)), None, length=steps)
        return fast

    def meta_grad(slow, fast_init, data):
        params, static = eqx.partition(fast_init, eqx.is_inexact_array)
        model = lambda p: eqx.combine(p, static)

        def augmented(p, slow, b):
            loss = problem.learn_loss(model(p), slow, data)
            return loss + b * problem.eval_loss(model(p), slow, data) if b else loss

        free = run(lambda p: augmented(p, slow, 0.0), params, free_steps)
        nudged = run(lambda p: augmented(p, slow, beta), free, nudged_steps)
        contrast = lambda s: (augmented(nudged, s, beta) - augmented(free, s, 0.0)) / beta
        return jax.grad(contrast)(slow)

    return meta_grad


def time_call(fn, *args) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def main(argv=None) -> dict:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    dtype = np.float32 if args.float32 else np.float64

    splits = eqcml.data.load_boston(seed=args.seed, dtype=dtype)
    data = {"learn": splits.learn, "eval": splits.eval}
    problem, slow, fast = eqcml.models.mlp_l2_regression(
        jax.random.key(args.seed), 13, width=20, strength=1e-1, dtype=dtype
    )
    optimizer = optax.sgd(0.05, momentum=0.9, nesterov=True)
    free_solver = eqcml.OptaxSolver(optimizer, max_steps=args.free_steps)
    nudged_solver = eqcml.OptaxSolver(optimizer, max_steps=args.nudged_steps)

    library = eqx.filter_jit(
        eqcml.contrastive_grad(problem, args.beta, free_solver, nudged_solver=nudged_solver)
    )
    baseline = eqx.filter_jit(
        hand_written(problem, optimizer, args.free_steps, args.nudged_steps, args.beta)
    )

    logger.info("Compiling both implementations")
    library_grad = jax.block_until_ready(library(slow, fast, data))
    baseline_grad = jax.block_until_ready(baseline(slow, fast, data))
    a, b = ravel_pytree(library_grad)[0], ravel_pytree(baseline_grad)[0]
    difference = float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))
    logger.info("Relative difference between the two meta-gradients: %.2e", difference)

    times = {"eqcml": [], "hand-written": []}
    for _ in tqdm(range(args.repeats), desc="timing", unit="pair"):
        times["eqcml"].append(time_call(library, slow, fast, data))
        times["hand-written"].append(time_call(baseline, slow, fast, data))
    medians = {name: statistics.median(values) for name, values in times.items()}
    ratio = medians["eqcml"] / medians["hand-written"]

    results = {
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "device": jax.devices()[0].device_kind,
        "median_seconds": medians,
        "ratio": ratio,
        "relative_difference": difference,
    }
    write_json(args.out / "results.json", results)
    print(
        f"\nOne contrastive meta-gradient, T={args.free_steps} free + K={args.nudged_steps} "
        f"nudged steps, {np.dtype(dtype).name}, {jax.devices()[0].device_kind}:\n"
        f"  eqcml.contrastive_grad   median {medians['eqcml'] * 1e3:8.2f} ms\n"
        f"  hand-written lax.scan    median {medians['hand-written'] * 1e3:8.2f} ms\n"
        f"  ratio eqcml / hand-written: {ratio:.3f} (target <= 1.10)\n"
        f"  gradients agree to a relative difference of {difference:.1e}"
    )
    return results


if __name__ == "__main__":
    main()
