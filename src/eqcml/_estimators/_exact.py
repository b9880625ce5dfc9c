"""The exact implicit meta-gradient from a dense Hessian solve."""

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import PyTree

from .._problem import Objective
from .._results import RESULTS
from .._solvers import AbstractInnerSolver, GradientFlowSolver
from ..internal import tree_isfinite
from ._base import AbstractEstimator, Estimate, combine_results


def _add(a: PyTree, b: PyTree) -> PyTree:
    return jax.tree_util.tree_map(jnp.add, a, b)


class Exact(AbstractEstimator):
    r"""The implicit-function-theorem meta-gradient with a dense Hessian solve.

    After the free phase gives $\hat\phi \approx \phi^*_\theta$, the estimate is

    $\frac{dL^\text{eval}}{d\theta} = \partial_\theta L^\text{eval}
    - \partial_\phi L^\text{eval}\,(\partial^2_\phi L^\text{learn})^{-1}\,
    \partial_\phi\partial_\theta L^\text{learn}$,

    all evaluated at $(\hat\phi, \theta)$. The Hessian is formed densely, so time is
    cubic and memory quadratic in the number of fast parameters: this estimator is
    the reference for small problems and tests. It is exact up to the accuracy of
    the free phase, so give it a converged `solver`.

    **Arguments:**

    - `solver`: the inner solver of the free phase.
    """

    solver: AbstractInnerSolver = GradientFlowSolver(atol=1e-10, rtol=1e-10)

    def estimate(self, objective: Objective, slow: PyTree, fast: PyTree) -> Estimate:
        free = self.solver.solve(lambda f: objective.learn(f, slow)[0], fast)
        hessian, eval_grad_fast, direct = implicit_parts(objective, slow, free.fast)
        flat_eval_grad, unravel = ravel_pytree(eval_grad_fast)
        adjoint = unravel(jnp.linalg.solve(hessian, flat_eval_grad))
        grad = _add(direct, cross_vjp(objective, slow, free.fast, adjoint, scale=-1.0))
        solved = tree_isfinite(adjoint)
        result = combine_results(
            free.result, RESULTS.where(solved, RESULTS.successful, RESULTS.nonfinite)
        )
        return Estimate(grad, free, (), {"hessian": hessian}, result)


def implicit_parts(objective: Objective, slow: PyTree, fast: PyTree):
    """The dense learning-loss Hessian in the fast parameters, and the gradients of
    the evaluation loss with respect to the fast and the slow parameters."""
    flat_fast, unravel = ravel_pytree(fast)
    hessian = jax.hessian(lambda x: objective.learn(unravel(x), slow)[0])(flat_fast)
    eval_grad_fast, direct = jax.grad(
        lambda f, s: objective.evaluate(f, s)[0], argnums=(0, 1)
    )(fast, slow)
    return hessian, eval_grad_fast, direct


def cross_vjp(
    objective: Objective, slow: PyTree, fast: PyTree, vector: PyTree, scale: float
) -> PyTree:
    r"""`scale * vector^T (d^2 L_learn / d phi d theta)`, a tree shaped like `slow`."""

    def learn_grad_fast(slow):
        return jax.grad(lambda f: objective.learn(f, slow)[0])(fast)

    _, vjp = jax.vjp(learn_grad_fast, slow)
    (cross,) = vjp(vector)
    return jax.tree_util.tree_map(lambda x: scale * x, cross)
