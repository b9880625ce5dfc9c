"""An inner solver driven by any optax gradient transformation."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import PyTree, Scalar

from .._solution import InnerSolution
from ..internal import tree_norm
from ._base import AbstractInnerSolver, check_tolerances, final_result, tolerance


class OptaxSolver(AbstractInnerSolver):
    """Minimise the inner loss with an optax optimiser inside `jax.lax.while_loop`.

    Each step computes the loss and gradient at the current fast parameters, stops if
    the gradient norm is at most `atol + rtol * initial_gradient_norm` or `max_steps`
    steps have been taken, and otherwise applies one optimiser update. With the
    default tolerances of zero the solver runs exactly `max_steps` steps, which is
    the usual fixed budget of meta-learning experiments; its status is then
    `RESULTS.max_steps_reached`, which does not raise.

    Optimisers built with `optax.GradientTransformationExtraArgs` (such as
    `optax.lbfgs`) receive `value`, `grad` and `value_fn` as extra arguments.

    **Arguments:**

    - `optimizer`: any `optax.GradientTransformation`, e.g. `optax.sgd(0.1)`.
    - `max_steps`: the maximum number of optimiser updates.
    - `atol`, `rtol`: absolute and relative (to the initial gradient norm)
        tolerances on the Euclidean norm of the gradient.
    """

    optimizer: optax.GradientTransformation
    max_steps: int = eqx.field(static=True)
    atol: float = eqx.field(default=0.0, static=True)
    rtol: float = eqx.field(default=0.0, static=True)

    def __check_init__(self):
        if not isinstance(self.optimizer, optax.GradientTransformation):
            raise TypeError(
                "`optimizer` must be an `optax.GradientTransformation`, for example "
                f"`optax.sgd(1e-2)`; got {type(self.optimizer).__name__}."
            )
        check_tolerances(self)

    def solve(self, loss_fn: Callable[[PyTree], Scalar], fast: PyTree) -> InnerSolution:
        value_and_grad = jax.value_and_grad(loss_fn)
        pass_extra_args = isinstance(
            self.optimizer, optax.GradientTransformationExtraArgs
        )

        loss, grad = value_and_grad(fast)
        grad_norm = tree_norm(grad)
        threshold = tolerance(self, grad_norm)
        init = (jnp.array(0), fast, self.optimizer.init(fast), loss, grad, grad_norm)

        def cond_fun(carry):
            step, _, _, loss, _, grad_norm = carry
            finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
            return (step < self.max_steps) & (grad_norm > threshold) & finite

        def body_fun(carry):
            step, fast, state, loss, grad, _ = carry
            if pass_extra_args:
                extra = dict(value=loss, grad=grad, value_fn=loss_fn)
            else:
                extra = {}
            updates, state = self.optimizer.update(grad, state, fast, **extra)
            fast = optax.apply_updates(fast, updates)
            loss, grad = value_and_grad(fast)
            return step + 1, fast, state, loss, grad, tree_norm(grad)

        steps, fast, _, loss, _, grad_norm = jax.lax.while_loop(cond_fun, body_fun, init)
        result = final_result(fast, loss, grad_norm, grad_norm <= threshold)
        return InnerSolution(fast, steps, grad_norm, loss, result)


def default_solver() -> OptaxSolver:
    """The inner solver estimators use when none is given: L-BFGS with a relative
    tolerance.

    L-BFGS needs no learning rate and converges quickly on the small smooth inner
    problems typical of meta-learning research. The tolerance is mostly relative
    (`rtol=1e-8` of the initial gradient norm). A nudged phase starts with beta
    times the evaluation loss's gradient, so it is solved to the same relative
    accuracy whatever beta is. `atol=1e-12` only stops a phase that starts at an
    exact minimiser. In float32 the relative tolerance is often out of reach,
    and the phases then run to `max_steps=5000` and report
    `RESULTS.max_steps_reached`.
    """
    return OptaxSolver(optax.lbfgs(), max_steps=5000, atol=1e-12, rtol=1e-8)
