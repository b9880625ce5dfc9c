"""Implicit differentiation with a conjugate-gradient adjoint solve, as in iMAML."""

import math
from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PyTree

from .._results import RESULTS
from .._solvers import AbstractInnerSolver, default_solver
from ..internal import tree_dot
from ._implicit import AbstractImplicitEstimator, scale_tree


def _axpy(a, x: PyTree, y: PyTree) -> PyTree:
    """`a * x + y` leaf by leaf, in each leaf's dtype."""
    return jax.tree_util.tree_map(lambda u, v: jnp.asarray(a, u.dtype) * u + v, x, y)


def conjugate_gradient(
    matvec: Callable[[PyTree], PyTree],
    b: PyTree,
    *,
    max_steps: int,
    rtol: float,
    atol: float,
) -> tuple[PyTree, dict[str, Any], jax.Array]:
    """Solve `A x = b` for a symmetric `A` given as `matvec`, starting from `x = 0`.

    Stops when the Euclidean norm of the residual is at most
    `atol + rtol * norm(b)`, after `max_steps` steps, or when a search direction
    has exactly zero curvature. Returns the solution, diagnostics and whether the
    tolerance was met.
    """
    rr0 = tree_dot(b, b)
    threshold = atol + rtol * jnp.sqrt(rr0)
    x0 = jax.tree_util.tree_map(jnp.zeros_like, b)
    init = (jnp.array(0), x0, b, b, rr0, jnp.ones_like(rr0), jnp.array(False))

    def cond_fun(carry):
        step, _, _, _, rr, curvature, _ = carry
        return (step < max_steps) & (jnp.sqrt(rr) > threshold) & (curvature != 0)

    def body_fun(carry):
        step, x, r, p, rr, _, negative = carry
        ap = matvec(p)
        curvature = tree_dot(p, ap)
        # A zero curvature ends the loop in `cond_fun`; the guarded division keeps the
        # iterate finite on that last step.
        alpha = jnp.where(curvature != 0, rr / curvature, 0)
        x = _axpy(alpha, p, x)
        r = _axpy(-alpha, ap, r)
        rr_next = tree_dot(r, r)
        p = _axpy(rr_next / rr, p, r)
        return step + 1, x, r, p, rr_next, curvature, negative | (curvature <= 0)

    steps, x, _, _, rr, _, negative = jax.lax.while_loop(cond_fun, body_fun, init)
    residual_norm = jnp.sqrt(rr)
    stats = {
        "linear_steps": steps,
        "linear_residual_norm": residual_norm,
        "negative_curvature": negative,
    }
    return x, stats, residual_norm <= threshold


class ConjugateGradient(AbstractImplicitEstimator):
    r"""Implicit differentiation with the adjoint solved by conjugate gradients.

    After the first phase gives $\hat\phi$, the linear system
    $(H + \text{damping}\,I)\,x = \partial_\phi L^\text{eval}$ with
    $H = \partial^2_\phi L^\text{learn}(\hat\phi, \theta)$ is solved by the
    conjugate-gradient method from $x = 0$, using Hessian-vector products
    (forward-over-reverse differentiation) and never forming $H$. The meta-gradient
    is then $\partial_\theta L^\text{eval} - x^\top
    \partial_\phi\partial_\theta L^\text{learn}$. In exact arithmetic, CG solves an
    $n$-dimensional positive definite system in at most $n$ steps. It assumes a
    positive definite $H$; with an indefinite $H$ (a first phase stopped far from a
    minimum) its iterates can be far from the solution. Reference: Rajeswaran,
    Finn, Kakade and Levine, "Meta-learning with implicit gradients", NeurIPS 2019.

    The solve stops when the residual norm is at most
    `atol + rtol * norm(dL_eval/dphi)` or after `max_steps` steps. A solve that
    stops without meeting the tolerance reports `RESULTS.linear_solve_failed`, which
    does not raise (fixed step budgets are a common way to run CG), so set
    `rtol=atol=0` to run exactly `max_steps` steps. `Solution.stats` contains
    `linear_steps`, `linear_residual_norm` (the norm of the recursively updated
    residual) and `negative_curvature` (whether a search direction had
    non-positive curvature, meaning that the damped Hessian is not positive
    definite).

    **Arguments:**

    - `solver`: the inner solver of the first phase.
    - `max_steps`: the maximum number of CG steps, each one Hessian-vector product.
    - `rtol`, `atol`: relative and absolute tolerances on the residual norm.
    - `damping`: a non-negative multiple of the identity added to the Hessian.
    """

    solver: AbstractInnerSolver = eqx.field(default_factory=default_solver)
    max_steps: int = eqx.field(default=100, static=True, kw_only=True)
    rtol: float = eqx.field(default=1e-6, static=True, kw_only=True)
    atol: float = eqx.field(default=0.0, static=True, kw_only=True)
    damping: float = eqx.field(default=0.0, static=True, kw_only=True)

    def __check_init__(self):
        if not isinstance(self.max_steps, int) or self.max_steps < 0:
            raise ValueError(
                f"`max_steps` must be a non-negative Python int, got {self.max_steps!r}."
            )
        for name in ("rtol", "atol", "damping"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not (0 <= value < math.inf):
                raise ValueError(
                    f"`{name}` must be a finite non-negative number, got {value!r}."
                )

    def solve_adjoint(self, hvp, eval_grad):
        if self.damping:

            def matvec(v):
                return jax.tree_util.tree_map(jnp.add, hvp(v), scale_tree(self.damping, v))

        else:
            matvec = hvp
        adjoint, stats, converged = conjugate_gradient(
            matvec, eval_grad, max_steps=self.max_steps, rtol=self.rtol, atol=self.atol
        )
        result = RESULTS.where(converged, RESULTS.successful, RESULTS.linear_solve_failed)
        return adjoint, result, stats
