"""Turn a problem and an estimator into `jax.grad`-style meta-gradient functions."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PyTree

from ._estimators import (
    AbstractEstimator,
    combine_results,
    warn_if_zero_by_construction,
)
from ._problem import bind, Problem
from ._results import RESULTS
from ._solution import Solution
from .internal import tree_isfinite


def _check_estimator(estimator: Any) -> None:
    if not isinstance(estimator, AbstractEstimator):
        raise TypeError(
            "`estimator` must be an eqcml estimator such as "
            "`eqcml.Contrastive(beta=0.1)` or `eqcml.Exact()`, got "
            f"{type(estimator).__name__}."
        )


def meta_solve(
    problem: Problem,
    estimator: AbstractEstimator,
    *,
    has_aux: bool = False,
    throw: bool = True,
) -> Callable[[PyTree, PyTree, PyTree], Solution]:
    """Build a function returning the full [`eqcml.Solution`][] of a meta-gradient.

    **Arguments:**

    - `problem`: the [`eqcml.Problem`][].
    - `estimator`: any estimator, such as [`eqcml.Contrastive`][].
    - `has_aux`: whether both losses return `(loss, aux)` pairs.
    - `throw`: raise a runtime error when the status is `RESULTS.nonfinite` or
        `RESULTS.nudge_below_tolerance`. Running out of `max_steps` and a linear
        solve that stops short of its tolerance never raise; they are reported in
        `Solution.result`. With `throw=False`, the gradient of a computation whose
        status is `RESULTS.nonfinite` is NaN in every leaf, so that it cannot be
        averaged into a batch of tasks unnoticed.

    **Returns:**

    A function `(slow, fast_init, data) -> Solution`, suitable for `jax.jit` and for
    `jax.vmap` over tasks (for example `in_axes=(None, 0, 0)`).
    """
    _check_estimator(estimator)

    def solve(slow: PyTree, fast_init: PyTree, data: PyTree) -> Solution:
        objective, fast, slow_diff, _ = bind(problem, has_aux, slow, fast_init, data)
        warn_if_zero_by_construction(estimator, objective, slow_diff, fast)
        estimate = estimator.estimate(objective, slow_diff, fast)
        value, aux = objective.evaluate(estimate.free.fast, slow_diff)
        finite = tree_isfinite(estimate.grad) & jnp.isfinite(value)
        result = combine_results(
            estimate.result,
            RESULTS.where(finite, RESULTS.successful, RESULTS.nonfinite),
        )
        grad = estimate.grad
        if throw:
            uninformative = (result == RESULTS.nonfinite) | (
                result == RESULTS.nudge_below_tolerance
            )
            grad = result.error_if(grad, uninformative)
        else:
            failed = result == RESULTS.nonfinite
            grad = jax.tree_util.tree_map(
                lambda g: jnp.where(failed, jnp.full_like(g, jnp.nan), g), grad
            )
        free = eqx.tree_at(
            lambda s: s.fast, estimate.free, eqx.combine(estimate.free.fast, objective.fast_static)
        )
        return Solution(grad, value, aux, free, estimate.nudged, estimate.stats, result)

    return solve


def meta_value_and_grad(
    problem: Problem,
    estimator: AbstractEstimator,
    *,
    has_aux: bool = False,
    throw: bool = True,
) -> Callable[[PyTree, PyTree, PyTree], tuple[Any, PyTree]]:
    """Build a function returning the evaluation loss and the meta-gradient.

    Mirrors `jax.value_and_grad`: the function returns `(value, grad)`, or
    `((value, aux), grad)` when `has_aux=True`. The value is the evaluation loss at
    the free (first-phase) solution. Arguments as for [`eqcml.meta_solve`][].
    """
    solve = meta_solve(problem, estimator, has_aux=has_aux, throw=throw)

    def value_and_grad(slow: PyTree, fast_init: PyTree, data: PyTree):
        solution = solve(slow, fast_init, data)
        value = (solution.value, solution.aux) if has_aux else solution.value
        return value, solution.grad

    return value_and_grad


def meta_grad(
    problem: Problem,
    estimator: AbstractEstimator,
    *,
    has_aux: bool = False,
    throw: bool = True,
) -> Callable[[PyTree, PyTree, PyTree], Any]:
    """Build a function returning the meta-gradient, mirroring `jax.grad`.

    The function `(slow, fast_init, data) -> grad` returns a tree with the structure
    of `slow`, with `None` at leaves that are not floating-point arrays (as with
    `equinox.filter_grad`). With `has_aux=True` it returns `(grad, aux)`, where
    `aux` is the evaluation loss's auxiliary output at the free solution. Arguments as
    for [`eqcml.meta_solve`][].
    """
    solve = meta_solve(problem, estimator, has_aux=has_aux, throw=throw)

    def grad(slow: PyTree, fast_init: PyTree, data: PyTree):
        solution = solve(slow, fast_init, data)
        return (solution.grad, solution.aux) if has_aux else solution.grad

    return grad
