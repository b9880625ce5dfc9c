"""`jax.grad`-style entry points for the contrastive rule and the exact reference."""

from collections.abc import Callable
from typing import Any

from jaxtyping import ArrayLike, PyTree

from ._estimators import Contrastive, Exact
from ._meta_grad import meta_grad, meta_solve, meta_value_and_grad
from ._problem import Problem
from ._solution import Solution
from ._solvers import AbstractInnerSolver, default_solver

_DOC_ARGUMENTS = """
    **Arguments:**

    - `problem`: the [`eqcml.Problem`][].
    - `beta`: the nudging strength; nonzero and finite, positive when `symmetric`.
    - `solver`: the inner solver of the free phase, and of the nudged phases unless
        `nudged_solver` is given. The default, L-BFGS run to a gradient norm of
        `1e-8` times its initial value or 5000 steps, suits small smooth problems;
        pass an [`eqcml.OptaxSolver`][] with a fixed budget to reproduce
        fixed-step experiments.
    - `symmetric`: use the symmetric estimate (three phases, bias $O(\\beta^2)$).
    - `nudged_solver`: a separate inner solver for the nudged phases.
    - `warm_start`: start the nudged phases from the free solution rather than from
        `fast_init`.
    - `has_aux`: whether both losses return `(loss, aux)` pairs.
    - `throw`: raise at run time on non-finite values. Running out of `max_steps`
        never raises.
"""


def _contrastive(beta, solver, symmetric, nudged_solver, warm_start) -> Contrastive:
    return Contrastive(
        beta,
        default_solver() if solver is None else solver,
        symmetric=symmetric,
        nudged_solver=nudged_solver,
        warm_start=warm_start,
    )


def contrastive_grad(
    problem: Problem,
    beta: ArrayLike,
    solver: AbstractInnerSolver | None = None,
    *,
    symmetric: bool = False,
    nudged_solver: AbstractInnerSolver | None = None,
    warm_start: bool = True,
    has_aux: bool = False,
    throw: bool = True,
) -> Callable[[PyTree, PyTree, PyTree], Any]:
    estimator = _contrastive(beta, solver, symmetric, nudged_solver, warm_start)
    return meta_grad(problem, estimator, has_aux=has_aux, throw=throw)


def contrastive_value_and_grad(
    problem: Problem,
    beta: ArrayLike,
    solver: AbstractInnerSolver | None = None,
    *,
    symmetric: bool = False,
    nudged_solver: AbstractInnerSolver | None = None,
    warm_start: bool = True,
    has_aux: bool = False,
    throw: bool = True,
) -> Callable[[PyTree, PyTree, PyTree], tuple[Any, PyTree]]:
    estimator = _contrastive(beta, solver, symmetric, nudged_solver, warm_start)
    return meta_value_and_grad(problem, estimator, has_aux=has_aux, throw=throw)


def contrastive_solve(
    problem: Problem,
    beta: ArrayLike,
    solver: AbstractInnerSolver | None = None,
    *,
    symmetric: bool = False,
    nudged_solver: AbstractInnerSolver | None = None,
    warm_start: bool = True,
    has_aux: bool = False,
    throw: bool = True,
) -> Callable[[PyTree, PyTree, PyTree], Solution]:
    estimator = _contrastive(beta, solver, symmetric, nudged_solver, warm_start)
    return meta_solve(problem, estimator, has_aux=has_aux, throw=throw)


contrastive_grad.__doc__ = (
    """Build a function `(slow, fast_init, data) -> grad` computing the contrastive
    meta-gradient, mirroring `jax.grad`.

    The result has the structure of `slow`, with `None` at leaves that are not
    floating-point arrays; with `has_aux=True` it is `(grad, aux)`. The function
    works under `jax.jit` and under `jax.vmap` over tasks, e.g.
    `jax.vmap(grad_fn, in_axes=(None, 0, 0))`. It is shorthand for
    `eqcml.meta_grad(problem, eqcml.Contrastive(beta, solver, ...))`.

    The returned function is not meant to be differentiated: the meta-gradient is
    already a derivative, and with `eqcml.OptaxSolver` the phases run in
    `jax.lax.while_loop`, which reverse-mode autodiff rejects.
"""
    + _DOC_ARGUMENTS
)
contrastive_value_and_grad.__doc__ = (
    """Build a function returning `(value, grad)` for the contrastive rule, mirroring
    `jax.value_and_grad`; `value` is the evaluation loss at the free solution, and
    with `has_aux=True` the function returns `((value, aux), grad)`.
"""
    + _DOC_ARGUMENTS
)
contrastive_solve.__doc__ = (
    """Build a function returning the full [`eqcml.Solution`][] of the contrastive
    rule: gradient, evaluation loss, the free and nudged inner solutions with their
    step counts and final gradient norms, and the status.
"""
    + _DOC_ARGUMENTS
)


def exact_grad(
    problem: Problem,
    solver: AbstractInnerSolver | None = None,
    *,
    has_aux: bool = False,
    throw: bool = True,
) -> Callable[[PyTree, PyTree, PyTree], Any]:
    """Build a function `(slow, fast_init, data) -> grad` computing the meta-gradient
    from the implicit function theorem with a dense Hessian solve, for small problems
    and tests. Shorthand for `eqcml.meta_grad(problem, eqcml.Exact(solver))`.
    """
    estimator = Exact() if solver is None else Exact(solver)
    return meta_grad(problem, estimator, has_aux=has_aux, throw=throw)
