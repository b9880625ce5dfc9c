"""The interface every inner solver implements."""

import abc
from collections.abc import Callable

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, PyTree, Scalar

from .._results import RESULTS
from .._solution import InnerSolution
from ..internal import tree_isfinite


class AbstractInnerSolver(eqx.Module):
    """Minimises a scalar loss over a PyTree of fast parameters.

    Subclasses run their iterations inside `jax.lax.while_loop` (or a diffrax solve),
    so a solve is one compiled loop that works under `jax.jit` and `jax.vmap`. A solve
    stops when the gradient norm falls to `atol + rtol * initial_gradient_norm` or
    after `max_steps` steps, whichever comes first.
    """

    max_steps: eqx.AbstractVar[int]
    atol: eqx.AbstractVar[float]
    rtol: eqx.AbstractVar[float]

    @abc.abstractmethod
    def solve(self, loss_fn: Callable[[PyTree], Scalar], fast: PyTree) -> InnerSolution:
        """Minimise `loss_fn` starting from `fast`.

        **Arguments:**

        - `loss_fn`: a function from fast parameters to a scalar loss.
        - `fast`: the starting point; a PyTree whose leaves are floating-point arrays
            or `None`.

        **Returns:**

        An [`eqcml.InnerSolution`][].
        """


def check_tolerances(solver: AbstractInnerSolver) -> None:
    """Raise a `ValueError` naming the field if a solver's budget or tolerance is invalid."""
    max_steps = solver.max_steps
    if not isinstance(max_steps, int) or isinstance(max_steps, bool) or max_steps < 0:
        raise ValueError(
            f"`max_steps` must be a non-negative Python int, got {solver.max_steps!r}."
        )
    for name in ("atol", "rtol"):
        value = getattr(solver, name)
        if not isinstance(value, (int, float)) or not (0 <= value < float("inf")):
            raise ValueError(
                f"`{name}` must be a finite non-negative number, got {value!r}."
            )


def tolerance(solver: AbstractInnerSolver, initial_grad_norm: Scalar) -> Scalar:
    """Return the gradient-norm threshold `atol + rtol * initial_grad_norm`."""
    return solver.atol + solver.rtol * initial_grad_norm


def final_result(
    fast: PyTree, loss: Scalar, grad_norm: Scalar, converged: Bool[Array, ""]
) -> RESULTS:
    """Classify the end of a solve: non-finite, converged, or out of steps."""
    finite = tree_isfinite(fast) & jnp.isfinite(loss) & jnp.isfinite(grad_norm)
    return RESULTS.where(
        finite,
        RESULTS.where(converged, RESULTS.successful, RESULTS.max_steps_reached),
        RESULTS.nonfinite,
    )

