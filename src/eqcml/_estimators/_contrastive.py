"""The contrastive meta-learning rule."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import ArrayLike, PyTree

from .._problem import Objective
from .._results import RESULTS
from .._solvers import AbstractInnerSolver, default_solver
from ._base import Estimate, combine_results
from ._equilibrium import AbstractEquilibriumEstimator


def check_beta(beta, symmetric: bool) -> None:
    """Reject a concrete `beta` that is zero, non-finite, or negative when symmetric.

    Traced values of `beta` are checked at run time instead, by `eqx.error_if`.
    """
    dtype = getattr(beta, "dtype", None)
    is_real_number = isinstance(beta, (int, float)) and not isinstance(beta, bool)
    if not is_real_number and not (
        dtype is not None and jnp.issubdtype(dtype, jnp.floating)
    ):
        raise TypeError(
            "`beta` must be a real number or a floating-point scalar array, got "
            f"{type(beta).__name__}" + (f" of dtype {dtype}" if dtype is not None else "")
            + ". Pass for example `beta=1e-3`."
        )
    try:
        value = float(beta)
    except (TypeError, jax.errors.ConcretizationTypeError):
        if jnp.shape(beta) != ():
            raise ValueError(f"`beta` must be a scalar, got shape {jnp.shape(beta)}.")
        return
    if not math.isfinite(value):
        raise ValueError(f"`beta` must be finite, got {value}.")
    if value == 0:
        raise ValueError(
            "`beta` must be nonzero: the contrastive estimate divides by beta. Typical "
            "values lie between 1e-3 and 1; see `eqcml.theory.optimal_beta`."
        )
    if symmetric and value < 0:
        raise ValueError(
            f"`beta` must be positive when `symmetric=True`, got {value}; the "
            "symmetric estimate already nudges with both signs of beta."
        )


class Contrastive(AbstractEquilibriumEstimator):
    r"""The contrastive meta-learning rule: a meta-gradient from two or three runs of
    the same inner learning process.

    The free phase minimises $L^\text{learn}$ from the initial fast parameters, giving
    $\hat\phi_0$. The nudged phase minimises the augmented loss
    $L^\text{learn} + \beta L^\text{eval}$, warm-started from $\hat\phi_0$, giving
    $\hat\phi_\beta$. The forward estimate is

    $\hat\nabla_\theta = \frac{1}{\beta}\left(\partial_\theta\mathcal{L}(\hat\phi_\beta,
    \theta, \beta) - \partial_\theta\mathcal{L}(\hat\phi_0, \theta, 0)\right)$,

    whose finite-difference bias is $O(\beta)$ when both phases are solved exactly.
    The symmetric estimate runs a third phase at $-\beta$ and divides the difference
    of the $+\beta$ and $-\beta$ terms by $2\beta$, with bias $O(\beta^2)$. Neither
    needs second derivatives, and memory does not grow with the number of inner
    steps. Error bound: Zucchet, Schug, von Oswald, Zhao and Sacramento, "A
    contrastive rule for meta-learning", NeurIPS 2022, Theorem 1; see
    [`eqcml.theory.theorem1_bound`][].

    **Arguments:**

    - `beta`: the nudging strength; nonzero and finite, positive when `symmetric`.
    - `solver`: the inner solver of the free phase, and of the nudged phases unless
        `nudged_solver` is given. Defaults to L-BFGS with a relative
        tolerance, see `eqcml.OptaxSolver`.
    - `symmetric`: use the symmetric (central difference) estimate.
    - `nudged_solver`: a separate solver for the nudged phases.
    - `warm_start`: start the nudged phases from the free solution (the default)
        rather than from the initial fast parameters.
    """

    beta: ArrayLike
    solver: AbstractInnerSolver = eqx.field(default_factory=default_solver)
    symmetric: bool = eqx.field(default=False, static=True, kw_only=True)
    nudged_solver: AbstractInnerSolver | None = eqx.field(default=None, kw_only=True)
    warm_start: bool = eqx.field(default=True, static=True, kw_only=True)

    def __check_init__(self):
        check_beta(self.beta, self.symmetric)
        for name in ("solver", "nudged_solver"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, AbstractInnerSolver):
                raise TypeError(
                    f"`{name}` must be an inner solver such as `eqcml.OptaxSolver`, "
                    f"got {type(value).__name__}."
                )

    def estimate(self, objective: Objective, slow: PyTree, fast: PyTree) -> Estimate:
        beta = self.beta
        if not isinstance(beta, (int, float)):
            beta = eqx.error_if(
                beta,
                (beta == 0) | ~jnp.isfinite(beta) | (self.symmetric & (beta < 0)),
                "`beta` must be finite and nonzero, and positive when symmetric=True.",
            )
        nudged_solver = self.solver if self.nudged_solver is None else self.nudged_solver

        def phase(solver, start, phase_beta):
            return solver.solve(lambda f: objective.augmented(f, slow, phase_beta), start)

        free = phase(self.solver, fast, 0.0)
        start = free.fast if self.warm_start else fast
        plus = phase(nudged_solver, start, beta)
        if self.symmetric:
            minus = phase(nudged_solver, start, -beta)
            nudged = (plus, minus)
            lower_fast, lower_beta, scale = minus.fast, -beta, 2 * beta
        else:
            nudged = (plus,)
            lower_fast, lower_beta, scale = free.fast, 0.0, beta

        # One reverse pass through both terms: the derivative of the scaled difference
        # of augmented losses with respect to the slow parameters.
        def contrast(slow):
            upper = objective.augmented(plus.fast, slow, beta)
            lower = objective.augmented(lower_fast, slow, lower_beta)
            return (upper - lower) / jnp.asarray(scale, upper.dtype)

        grad = jax.grad(contrast)(slow)
        # A nudged phase that starts within its tolerance never moves, and the
        # estimate is then zero or noise whatever the true meta-gradient is.
        stalled = [
            RESULTS.where(
                (n.steps == 0) & (n.grad_norm > 0),
                RESULTS.nudge_below_tolerance,
                RESULTS.successful,
            )
            for n in nudged
        ]
        result = combine_results(free.result, *(n.result for n in nudged), *stalled)
        return Estimate(grad, free, nudged, {}, result)
