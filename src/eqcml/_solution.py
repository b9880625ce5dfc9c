"""Records returned by the inner solvers and by the meta-gradient estimators."""

from typing import Any

import equinox as eqx
from jaxtyping import Array, Float, Int, PyTree

from ._results import RESULTS


class InnerSolution(eqx.Module):
    """The outcome of one phase of the inner learning process.

    **Fields:**

    - `fast`: the fast parameters at the end of the phase, with the structure of the
        initial fast parameters.
    - `steps`: the number of solver steps taken.
    - `grad_norm`: the Euclidean norm of the gradient of the phase's loss with
        respect to the fast parameters, at `fast`.
    - `loss`: the value of the phase's loss at `fast`.
    - `result`: a [`eqcml.RESULTS`][] item.
    """

    fast: PyTree
    steps: Int[Array, ""]
    grad_norm: Float[Array, ""]
    loss: Float[Array, ""]
    result: RESULTS


class Solution(eqx.Module):
    """The full record of one meta-gradient computation.

    **Fields:**

    - `grad`: the meta-gradient, with the structure of the slow parameters. Leaves
        that are not floating-point arrays are `None`, as with `equinox.filter_grad`.
    - `value`: the evaluation loss at the free (first-phase) solution.
    - `aux`: the auxiliary output of the evaluation loss at the free solution when
        `has_aux=True`, else `None`.
    - `free`: the [`eqcml.InnerSolution`][] of the free phase, which minimises the
        learning loss alone.
    - `nudged`: a tuple of [`eqcml.InnerSolution`][]s for the nudged phases of the
        contrastive estimator: `(plus,)` for the forward estimate and
        `(plus, minus)` for the symmetric one. Empty for the other estimators.
    - `stats`: estimator-specific diagnostics, such as the step count of a linear
        solve.
    - `result`: a [`eqcml.RESULTS`][] item summarising every phase: the most severe
        status among them (non-finite values first, then an uninformative nudge, a
        failed linear solve, an exhausted step budget), or `RESULTS.successful`.
    """

    grad: PyTree
    value: Float[Array, ""]
    aux: Any
    free: InnerSolution
    nudged: tuple[InnerSolution, ...]
    stats: dict[str, Any]
    result: RESULTS
