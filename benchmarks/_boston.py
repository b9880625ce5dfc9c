"""The Boston learned-L2 problem and the measurement helpers shared by the estimator
benchmarks (`table_s1_memory.py`, `boston_s5_s6.py`, `peers.py`)."""

import logging
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

import eqcml


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")


def boston_problem(
    seed: int, *, width: int = 20, depth: int = 1, strength: float = 0.1, dtype=np.float64
):
    """Build the learned-L2 regression problem on the Boston data, split 70/30 into
    learning and evaluation rows, for a tanh MLP with `depth` hidden layers of
    `width` units.

    **Returns:**

    `(problem, slow, fast, data)`: the problem, the slow parameters (log L2
    strengths, all at `strength`), the initial MLP and the data tree.
    """
    splits = eqcml.data.load_boston(seed=seed, eval_fraction=0.3, dtype=dtype)
    data = {"learn": splits.learn, "eval": splits.eval}
    problem, slow, fast = eqcml.models.mlp_l2_regression(
        jax.random.key(seed), 13, width=width, depth=depth, strength=strength, dtype=dtype
    )
    return problem, slow, fast, data


def float_leaves(tree) -> jax.Array:
    """Concatenate the floating-point array leaves of `tree` into one vector."""
    return ravel_pytree(eqx.filter(tree, eqx.is_inexact_array))[0]


def relative_error(estimate, reference) -> float:
    """Compute the normalised error `||estimate - reference|| / ||reference||` over
    the float leaves of two trees of the same structure."""
    a, b = float_leaves(estimate), float_leaves(reference)
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


def exact_reference(problem, slow, fast, data, *, atol: float = 1e-8, max_steps: int = 20_000):
    """Solve the inner problem with L-BFGS to gradient norm `atol` and return the
    exact meta-gradient from a dense Hessian solve, as an `eqcml.Solution`.

    Raises a `RuntimeError` when L-BFGS stops at `max_steps` before the tolerance.
    """
    solver = eqcml.OptaxSolver(optax.lbfgs(), max_steps=max_steps, atol=atol)
    solution = eqx.filter_jit(eqcml.meta_solve(problem, eqcml.Exact(solver)))(slow, fast, data)
    if solution.result != eqcml.RESULTS.successful:
        raise RuntimeError(
            f"The exact reference did not converge: L-BFGS stopped after "
            f"{int(solution.free.steps)} steps at gradient norm "
            f"{float(solution.free.grad_norm):.3e} > {atol:.1e}. Raise `max_steps` or "
            "the initial L2 strength."
        )
    return solution


def compile_call(fn, *args):
    """Compile `fn(*args)` with `jax.jit`, treating every non-array leaf of the
    arguments as static, and return `(compiled, arrays)`: call `compiled(arrays)`."""
    arrays, static = eqx.partition(args, eqx.is_array)
    jitted = jax.jit(lambda arrays: fn(*eqx.combine(arrays, static)))
    return jitted.lower(arrays).compile(), arrays


def time_call(fn, *args) -> float:
    """Wall time of one call in seconds, waiting for the result."""
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def settings(args) -> dict:
    """Convert the parsed command-line arguments to JSON-serialisable values."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}


def format_table(header: list[str], rows: list[list]) -> str:
    """Format a header and rows as a Markdown table with right-aligned columns."""
    cells = [header] + [[str(x) for x in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
