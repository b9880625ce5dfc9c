"""The exact implicit meta-gradient from a dense Hessian solve."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree
from jaxtyping import PyTree

from .._problem import Objective
from .._results import RESULTS
from .._solvers import AbstractInnerSolver, default_solver
from ..internal import tree_isfinite
from ._base import Estimate, combine_results
from ._equilibrium import AbstractEquilibriumEstimator
from ._implicit import cross_vjp as cross_vjp, eval_grads, implicit_grad


class Exact(AbstractEquilibriumEstimator):
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

    solver: AbstractInnerSolver = eqx.field(default_factory=default_solver)

    def estimate(self, objective: Objective, slow: PyTree, fast: PyTree) -> Estimate:
        free = self.solver.solve(lambda f: objective.learn(f, slow)[0], fast)
        hessian, eval_grad_fast, direct = implicit_parts(objective, slow, free.fast)
        flat_eval_grad, unravel = ravel_pytree(eval_grad_fast)
        adjoint = unravel(jnp.linalg.solve(hessian, flat_eval_grad))
        grad = implicit_grad(objective, slow, free.fast, direct, adjoint)
        solved = tree_isfinite(adjoint)
        result = combine_results(
            free.result, RESULTS.where(solved, RESULTS.successful, RESULTS.nonfinite)
        )
        return Estimate(grad, free, (), {"hessian": hessian}, result)


def implicit_parts(objective: Objective, slow: PyTree, fast: PyTree):
    """Compute the dense learning-loss Hessian in the fast parameters, and the
    gradients of the evaluation loss with respect to the fast and the slow parameters."""
    flat_fast, unravel = ravel_pytree(fast)
    hessian = jax.hessian(lambda x: objective.learn(unravel(x), slow)[0])(flat_fast)
    eval_grad_fast, direct = eval_grads(objective, slow, fast)
    return hessian, eval_grad_fast, direct

