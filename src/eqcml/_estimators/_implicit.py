"""Shared machinery of the implicit-differentiation estimators: the first phase, the
derivatives of the losses at its solution, and the assembly of the meta-gradient."""

import abc
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PyTree

from .._problem import Objective
from .._results import RESULTS
from .._solvers import AbstractInnerSolver
from ..internal import tree_isfinite
from ._base import Estimate, combine_results
from ._equilibrium import AbstractEquilibriumEstimator


def eval_grads(objective: Objective, slow: PyTree, fast: PyTree) -> tuple[PyTree, PyTree]:
    """Compute the gradients of the evaluation loss with respect to the fast and the
    slow parameters. The second is the direct term of the implicit meta-gradient."""
    return jax.grad(lambda f, s: objective.evaluate(f, s)[0], argnums=(0, 1))(fast, slow)


def learn_hvp(
    objective: Objective, slow: PyTree, fast: PyTree
) -> Callable[[PyTree], PyTree]:
    """Build the Hessian-vector product `v -> (d^2 L_learn / d phi^2) v` at `fast`.

    The gradient is linearised once (forward-over-reverse), so each product costs one
    evaluation of the linear map and memory does not grow with the number of
    products.
    """
    _, hvp = jax.linearize(jax.grad(lambda f: objective.learn(f, slow)[0]), fast)
    return hvp


def cross_vjp(
    objective: Objective, slow: PyTree, fast: PyTree, vector: PyTree, scale: float
) -> PyTree:
    r"""`scale * vector^T (d^2 L_learn / d phi d theta)`, a tree shaped like `slow`."""

    def learn_grad_fast(slow):
        return jax.grad(lambda f: objective.learn(f, slow)[0])(fast)

    _, vjp = jax.vjp(learn_grad_fast, slow)
    (cross,) = vjp(vector)
    return jax.tree_util.tree_map(lambda x: scale * x, cross)


def implicit_grad(
    objective: Objective, slow: PyTree, fast: PyTree, direct: PyTree, adjoint: PyTree
) -> PyTree:
    r"""Assemble the implicit meta-gradient
    `direct - adjoint^T (d^2 L_learn / d phi d theta)`, where `adjoint` approximates
    `(d^2 L_learn / d phi^2)^{-1} dL_eval/dphi`."""
    cross = cross_vjp(objective, slow, fast, adjoint, scale=-1.0)
    return jax.tree_util.tree_map(jnp.add, direct, cross)


def scale_tree(scale: Any, tree: PyTree) -> PyTree:
    """`scale * tree`, keeping each leaf's dtype when `scale` is a wider array."""
    return jax.tree_util.tree_map(lambda x: jnp.asarray(scale, x.dtype) * x, tree)


def check_solver(solver: Any) -> None:
    if not isinstance(solver, AbstractInnerSolver):
        raise TypeError(
            "`solver` must be an inner solver such as `eqcml.OptaxSolver` or "
            f"`eqcml.GradientFlowSolver`, got {type(solver).__name__}."
        )


class AbstractImplicitEstimator(AbstractEquilibriumEstimator):
    r"""An implicit-differentiation estimator with a matrix-free adjoint solve.

    The first phase runs `solver` on the learning loss, giving $\hat\phi$. With
    $H = \partial^2_\phi L^\text{learn}$ and $g = \partial_\phi L^\text{eval}$ at
    $(\hat\phi, \theta)$, a subclass approximates the adjoint $x \approx H^{-1} g$
    from Hessian-vector products, and the meta-gradient is

    $\partial_\theta L^\text{eval} - x^\top \partial_\phi\partial_\theta L^\text{learn}$,

    which costs one cross-derivative vector product. Memory does not grow with the
    number of inner steps or of Hessian-vector products.
    """

    solver: eqx.AbstractVar[AbstractInnerSolver]

    def __check_init__(self):
        check_solver(self.solver)

    @abc.abstractmethod
    def solve_adjoint(
        self, hvp: Callable[[PyTree], PyTree], eval_grad: PyTree
    ) -> tuple[PyTree, RESULTS, dict[str, Any]]:
        """Approximate $H^{-1} g$.

        **Arguments:**

        - `hvp`: the Hessian-vector product $v \\mapsto Hv$.
        - `eval_grad`: $g$, with the structure of the fast parameters.

        **Returns:**

        The adjoint, a status and a dictionary of diagnostics for `Solution.stats`.
        """

    def estimate(self, objective: Objective, slow: PyTree, fast: PyTree) -> Estimate:
        free = self.solver.solve(lambda f: objective.learn(f, slow)[0], fast)
        eval_grad, direct = eval_grads(objective, slow, free.fast)
        hvp = learn_hvp(objective, slow, free.fast)
        adjoint, linear_result, stats = self.solve_adjoint(hvp, eval_grad)
        grad = implicit_grad(objective, slow, free.fast, direct, adjoint)
        finite = RESULTS.where(tree_isfinite(adjoint), RESULTS.successful, RESULTS.nonfinite)
        result = combine_results(free.result, linear_result, finite)
        return Estimate(grad, free, (), stats, result)
