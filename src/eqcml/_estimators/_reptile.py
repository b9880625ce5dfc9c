"""Reptile: a first-order meta-gradient for a learned initialisation."""

import equinox as eqx
import jax
import optax
from jaxtyping import PyTree

from .._problem import Objective
from ._base import Estimate
from ._equilibrium import unused_leaves
from ._unrolled import (
    AbstractUnrolledEstimator,
    adapted_solution,
    initial_fast,
    InitFn,
    run_optimizer,
)


def slow_as_init(slow: PyTree, fast_init: PyTree) -> PyTree:
    """Return the slow parameters as the initial fast parameters, the default `init`
    of [`eqcml.Reptile`][]."""
    del fast_init
    return slow


class Reptile(AbstractUnrolledEstimator):
    r"""The Reptile meta-gradient for slow parameters that set the initialisation.

    Starting from $\phi_0$ = `init(slow, fast_init)`, which by default is the slow
    parameters themselves ($\phi_0 = \theta$), the estimator runs $T$ = `steps`
    updates of `optimizer` on the learning loss and returns

    $\hat\nabla_\theta = \left(\frac{\partial\phi_0}{\partial\theta}\right)^\top
    (\phi_0 - \phi_T)$,

    which with the default `init` is exactly $\theta - \phi_T$, with no scaling by
    the number of steps or the learning rate. Descending along it with step size
    $\epsilon$ (for example with `optax.sgd(epsilon)`) gives Reptile's update
    $\theta \leftarrow \theta + \epsilon(\phi_T - \theta)$. The evaluation loss is
    not used, except for the reported value; slow parameters that do not set
    $\phi_0$ get a zero meta-gradient. Memory does not grow with $T$. Reference:
    Nichol, Achiam and Schulman, "On first-order meta-learning algorithms",
    arXiv:1803.02999, 2018.

    Reptile is not a general-purpose meta-gradient. Without `init`, it raises a
    `TypeError` when the slow parameters cannot be the initial fast parameters,
    because their floating-point leaves differ in structure, shape or dtype from
    those of `fast_init`. It raises a `ValueError` when `init` does not depend on
    the slow parameters.

    **Arguments:**

    - `optimizer`: any `optax.GradientTransformation`, applied to the gradient of
        the learning loss at each step.
    - `steps`: the number of optimiser steps $T$.
    - `init`: a callable `init(slow, fast_init) -> fast` returning the initial fast
        parameters from the full trees, such as `lambda slow, fast_init: slow["init"]`
        when the initialisation is one part of the slow parameters. Defaults to
        the slow parameters themselves.
    """

    optimizer: optax.GradientTransformation
    steps: int = eqx.field(static=True)
    init: InitFn = eqx.field(default=slow_as_init, kw_only=True)

    def __check_init__(self):
        if self.init is None:
            raise TypeError(
                "`init` must be a callable `(slow, fast_init) -> fast`; Reptile "
                "meta-learns the initialisation, so it cannot start from `fast_init`."
            )

    def estimate(self, objective: Objective, slow: PyTree, fast: PyTree) -> Estimate:
        if self.init is slow_as_init:
            hint = (
                " Reptile meta-learns the initialisation: by default the slow "
                "parameters are the initial fast parameters, so they must match "
                "`fast_init`. Pass `init=` to build the initial fast parameters from "
                "the slow ones, or use `eqcml.Unrolled` for other slow parameters."
            )
        else:
            hint = ""

        def start_fn(slow):
            return initial_fast(self.init, objective, slow, fast, hint)

        if len(unused_leaves(start_fn, slow)) == len(jax.tree_util.tree_leaves(slow)):
            raise ValueError(
                "`init(slow, fast_init)` does not depend on the slow parameters, so "
                "the Reptile meta-gradient would be zero. Reptile meta-learns the "
                "initialisation; for other slow parameters use `eqcml.Unrolled` or "
                "an equilibrium estimator such as `eqcml.Contrastive`."
            )
        start, init_vjp = jax.vjp(start_fn, slow)
        end, _ = run_optimizer(
            objective, slow, start, self.optimizer.init(start), self.optimizer, self.steps
        )
        (grad,) = init_vjp(jax.tree_util.tree_map(lambda a, b: a - b, start, end))
        return Estimate(grad, adapted_solution(objective, slow, end, self.steps))
