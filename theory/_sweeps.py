"""Runs of the contrastive estimator over grids of beta and step budgets.

Figures S3 and S4 measure the normalised error `||estimate - exact|| / ||exact||` of
the contrastive meta-gradient on two problems. They vary beta, the number of
gradient steps per phase, and the split of a fixed budget between the free and the
nudged phase. One call of `run_sweep` computes the estimate for a whole vector of
beta values as one `jax.vmap`ped, compiled computation. A new step budget means a
new compilation, because the step budget of an `eqcml.OptaxSolver` is static.
"""

import dataclasses
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from jaxtyping import PyTree

import eqcml


def flatten(tree: PyTree) -> jax.Array:
    """Concatenate the floating-point leaves of `tree` into one vector."""
    leaves = jax.tree_util.tree_leaves(eqx.filter(tree, eqx.is_inexact_array))
    return jnp.concatenate([jnp.ravel(x) for x in leaves])


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A bilevel problem, its starting point, the inner optimiser and the exact
    meta-gradient that estimates are compared with.

    `curvature` is the smallest eigenvalue of the learning loss's Hessian at the
    converged free phase, and `cross_norm` the spectral norm of the mixed derivative
    of the learning loss in the fast and slow parameters there. Theorem 1 calls the
    latter `B_learn`. Together they turn a phase's final gradient norm `g` into an
    estimate `g / curvature` of its distance to the exact solution.
    """

    problem: eqcml.Problem
    slow: PyTree
    fast_init: PyTree
    data: PyTree
    optimizer: optax.GradientTransformation
    exact: np.ndarray
    curvature: float
    cross_norm: float
    reference: dict[str, Any]


def build_experiment(
    problem: eqcml.Problem,
    slow: PyTree,
    fast_init: PyTree,
    data: PyTree,
    optimizer: optax.GradientTransformation,
    reference_solver: eqcml.AbstractInnerSolver,
) -> Experiment:
    """Compute the exact meta-gradient at a converged free phase and the constants
    of the fit-range criterion.

    The exact meta-gradient is the implicit-function formula with a dense Hessian.
    `eqcml.exact_grad` computes it with `eqcml.Exact`, and `eqcml.meta_solve` with
    the same estimator also returns the Hessian and the free phase's record.
    """
    solve = eqx.filter_jit(eqcml.meta_solve(problem, eqcml.Exact(reference_solver)))
    solution = solve(slow, fast_init, data)
    eigenvalues = np.linalg.eigvalsh(np.asarray(solution.stats["hessian"]))
    cross = _cross_derivative(problem, slow, solution.free.fast, data)
    reference = {
        "free_steps": int(solution.free.steps),
        "free_grad_norm": float(solution.free.grad_norm),
        "hessian_min_eigenvalue": float(eigenvalues[0]),
        "hessian_max_eigenvalue": float(eigenvalues[-1]),
        "exact_grad_norm": float(jnp.linalg.norm(flatten(solution.grad))),
    }
    return Experiment(
        problem,
        slow,
        fast_init,
        data,
        optimizer,
        np.asarray(flatten(solution.grad)),
        float(eigenvalues[0]),
        float(np.linalg.norm(cross, 2)),
        reference,
    )


def _cross_derivative(problem: eqcml.Problem, slow, fast, data) -> np.ndarray:
    """Compute the matrix of mixed second derivatives of the learning loss in the fast
    and slow parameters."""
    fast_float, fast_static = eqx.partition(fast, eqx.is_inexact_array)
    slow_float, slow_static = eqx.partition(slow, eqx.is_inexact_array)
    flat_fast, unravel_fast = ravel_pytree(fast_float)
    flat_slow, unravel_slow = ravel_pytree(slow_float)

    def fast_gradient(flat_slow):
        def loss(flat_fast):
            return problem.learn_loss(
                eqx.combine(unravel_fast(flat_fast), fast_static),
                eqx.combine(unravel_slow(flat_slow), slow_static),
                data,
            )

        return jax.grad(loss)(flat_fast)

    return np.asarray(jax.jit(jax.jacfwd(fast_gradient))(flat_slow))


@dataclasses.dataclass(frozen=True)
class Sweep:
    """Estimates for a vector of beta values at one step budget.

    Arrays are indexed by beta first. `nudged_fast` and `nudged_grad_norm` have one
    entry per nudged phase: `(plus,)` for the forward estimate and `(plus, minus)`
    for the symmetric one. `finite` is false where a phase produced non-finite
    values, and `error` is `nan` there.
    """

    betas: np.ndarray
    free_steps: int
    nudged_steps: int
    symmetric: bool
    grad: np.ndarray
    error: np.ndarray
    free_fast: np.ndarray
    nudged_fast: np.ndarray
    free_grad_norm: np.ndarray
    nudged_grad_norm: np.ndarray
    finite: np.ndarray

    def select(self, indices: np.ndarray) -> "Sweep":
        """Return the sub-sweep of the beta values at `indices`."""
        arrays = {
            field.name: getattr(self, field.name)[indices]
            for field in dataclasses.fields(self)
            if isinstance(getattr(self, field.name), np.ndarray)
        }
        return dataclasses.replace(self, **arrays)

    def solution_error_floor(self, experiment: Experiment) -> np.ndarray:
        """Theorem 1's solution-error term with distances estimated from the final
        gradient norms: `B_learn (delta + delta') / beta` for the forward estimate,
        `B_learn (delta_plus + delta_minus) / (2 beta)` for the symmetric one, with
        `delta = gradient norm / curvature`.

        NOTE: the curvature is measured at the free solution only; the nudged
        phases' Hessians differ from it by O(beta), so this is an estimate.
        """
        distances = self.nudged_grad_norm.sum(axis=1)
        scale = 2 * self.betas if self.symmetric else self.betas
        if not self.symmetric:
            distances = distances + self.free_grad_norm
        return experiment.cross_norm * distances / experiment.curvature / scale


@eqx.filter_jit
def _solve_for_betas(problem, free_solver, nudged_solver, symmetric, betas, slow, fast_init, data):
    def solve_one(beta):
        solve = eqcml.contrastive_solve(
            problem,
            beta,
            free_solver,
            nudged_solver=nudged_solver,
            symmetric=symmetric,
            throw=False,
        )
        solution = solve(slow, fast_init, data)
        return (
            flatten(solution.grad),
            flatten(solution.free.fast),
            jnp.stack([flatten(phase.fast) for phase in solution.nudged]),
            solution.free.grad_norm,
            jnp.stack([phase.grad_norm for phase in solution.nudged]),
            solution.result != eqcml.RESULTS.nonfinite,
        )

    return jax.vmap(solve_one)(betas)


def run_sweep(
    experiment: Experiment,
    betas: np.ndarray,
    free_steps: int,
    nudged_steps: int | None = None,
    *,
    symmetric: bool = False,
) -> Sweep:
    """Estimate the meta-gradient for every beta with fixed step budgets.

    Both phases run `optax` updates of `experiment.optimizer` for exactly
    `free_steps` and `nudged_steps` (default: the same) steps, the nudged phases
    warm-started from the free solution.
    """
    nudged_steps = free_steps if nudged_steps is None else nudged_steps
    free_solver = eqcml.OptaxSolver(experiment.optimizer, max_steps=int(free_steps))
    nudged_solver = eqcml.OptaxSolver(experiment.optimizer, max_steps=int(nudged_steps))
    betas = np.asarray(betas, dtype=np.float64)
    outputs = _solve_for_betas(
        experiment.problem,
        free_solver,
        nudged_solver,
        symmetric,
        jnp.asarray(betas),
        experiment.slow,
        experiment.fast_init,
        experiment.data,
    )
    grad, free_fast, nudged_fast, free_norm, nudged_norm, finite = map(np.asarray, outputs)
    error = np.linalg.norm(grad - experiment.exact, axis=1) / np.linalg.norm(experiment.exact)
    finite = finite & np.isfinite(error)
    return Sweep(
        betas,
        int(free_steps),
        int(nudged_steps),
        symmetric,
        grad,
        np.where(finite, error, np.nan),
        free_fast,
        nudged_fast,
        free_norm,
        nudged_norm,
        finite,
    )
