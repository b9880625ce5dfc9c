"""Implicit differentiation with a Neumann-series adjoint: recurrent backpropagation."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import ArrayLike

from .._results import RESULTS
from .._solvers import AbstractInnerSolver, default_solver
from ..internal import tree_norm
from ._implicit import AbstractImplicitEstimator, scale_tree


def check_step_size(alpha: ArrayLike) -> None:
    """Reject a concrete `alpha` that is not a finite positive scalar."""
    try:
        value = float(alpha)
    except (TypeError, jax.errors.ConcretizationTypeError):
        if jnp.shape(alpha) != ():
            raise ValueError(f"`alpha` must be a scalar, got shape {jnp.shape(alpha)}.")
        return
    if not (0 < value < math.inf):
        raise ValueError(f"`alpha` must be finite and positive, got {value}.")


class Neumann(AbstractImplicitEstimator):
    r"""Implicit differentiation with the adjoint from a truncated Neumann series.

    Also known as recurrent backpropagation. After the first phase gives
    $\hat\phi$, the adjoint system $Hx = g$, with
    $H = \partial^2_\phi L^\text{learn}(\hat\phi, \theta)$ and
    $g = \partial_\phi L^\text{eval}$, is solved by the fixed-point iteration
    $x \leftarrow x - \alpha(Hx - g)$ from $x = 0$. After $K$ = `steps` iterations

    $x_K = \alpha \sum_{k=0}^{K-1} (I - \alpha H)^k g$,

    the first $K$ terms of the Neumann series of $H^{-1} g$, and the error
    $x_K - H^{-1}g = -(I - \alpha H)^K H^{-1} g$ shrinks geometrically with the
    spectral radius of $I - \alpha H$ when $0 < \alpha < 2 / \lambda_\max(H)$ and
    $H$ is positive definite. The meta-gradient is $\partial_\theta L^\text{eval} -
    x_K^\top \partial_\phi\partial_\theta L^\text{learn}$. References: Liao,
    Xiong, Fetaya, Zhang, Yoon, Pitkow, Urtasun and Zemel, "Reviving and improving
    recurrent back-propagation", ICML 2018; Lorraine, Vicol and Duvenaud,
    "Optimizing millions of hyperparameters by implicit differentiation", AISTATS
    2020.

    The iteration has no tolerance: it always runs `steps` Hessian-vector
    products and its status reports only non-finite values (a diverging iteration,
    when `alpha` is too large, ends in one). `Solution.stats` contains
    `linear_steps` and `linear_residual_norm`, the norm of $Hx_K - g$, which costs
    one more Hessian-vector product.

    **Arguments:**

    - `alpha`: the step size $\alpha$, a positive scalar.
    - `steps`: the number of iterations $K$.
    - `solver`: the inner solver of the first phase.
    """

    alpha: ArrayLike
    steps: int = eqx.field(default=100, static=True)
    solver: AbstractInnerSolver = eqx.field(default_factory=default_solver)

    def __check_init__(self):
        check_step_size(self.alpha)
        if not isinstance(self.steps, int) or self.steps < 0:
            raise ValueError(
                f"`steps` must be a non-negative Python int, got {self.steps!r}."
            )

    def solve_adjoint(self, hvp, eval_grad):
        def residual(x):
            return jax.tree_util.tree_map(jnp.subtract, hvp(x), eval_grad)

        def body_fun(_, x):
            update = scale_tree(self.alpha, residual(x))
            return jax.tree_util.tree_map(jnp.subtract, x, update)

        x0 = jax.tree_util.tree_map(jnp.zeros_like, eval_grad)
        adjoint = jax.lax.fori_loop(0, self.steps, body_fun, x0)
        stats = {
            "linear_steps": jnp.array(self.steps),
            "linear_residual_norm": tree_norm(residual(adjoint)),
        }
        return adjoint, RESULTS.successful, stats
