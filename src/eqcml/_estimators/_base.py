"""The interface every meta-gradient estimator implements."""

import abc
from typing import Any

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Bool, PyTree

from .._problem import Objective
from .._results import RESULTS
from .._solution import InnerSolution


class Estimate(eqx.Module):
    """What an estimator returns to [`eqcml.meta_solve`][] before the shared checks.

    `grad` contains only the floating-point leaves of the slow parameters (`None`
    elsewhere). `free` is the first-phase (or adapted) solution at which the
    evaluation loss is reported.
    """

    grad: PyTree
    free: InnerSolution
    nudged: tuple[InnerSolution, ...] = ()
    stats: dict[str, Any] = eqx.field(default_factory=dict)
    result: RESULTS = eqx.field(default_factory=lambda: RESULTS.successful)


class AbstractEstimator(eqx.Module):
    """A method that estimates the meta-gradient of a [`eqcml.Problem`][].

    Every estimator receives the problem bound to one task's data and returns an
    [`eqcml.Estimate`][]; [`eqcml.meta_grad`][] and its siblings add input checks,
    status handling and the evaluation loss, so swapping one estimator for another
    changes nothing else in the caller's code.
    """

    @abc.abstractmethod
    def estimate(self, objective: Objective, slow: PyTree, fast: PyTree) -> Estimate:
        """Estimate the meta-gradient.

        **Arguments:**

        - `objective`: the problem bound to one task's data; its methods `learn`,
            `evaluate` and `augmented` take the floating-point parts of the fast and
            slow parameters.
        - `slow`: the floating-point leaves of the slow parameters (`None` elsewhere).
        - `fast`: the floating-point leaves of the initial fast parameters.

        **Returns:**

        An [`eqcml.Estimate`][].
        """


def combine_results(*results: RESULTS) -> RESULTS:
    """Return the most severe of several statuses.

    The order is: non-finite, nudge below tolerance, failed linear solve, steps
    exhausted, success.
    """
    order = (
        RESULTS.nonfinite,
        RESULTS.nudge_below_tolerance,
        RESULTS.linear_solve_failed,
        RESULTS.max_steps_reached,
    )
    combined = RESULTS.successful
    for item in reversed(order):
        hit: Bool[Array, ""] = jnp.array(False)
        for result in results:
            hit = hit | (result == item)
        combined = RESULTS.where(hit, item, combined)
    return combined
