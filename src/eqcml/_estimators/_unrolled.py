"""Estimators that differentiate through a fixed number of optimiser steps:
backpropagation through learning, its truncated and its first-order versions."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import PyTree

from .._problem import Objective
from .._solution import InnerSolution
from .._solvers._base import final_result
from ..internal import is_floating_array, tree_norm
from ._base import AbstractEstimator, Estimate
from ._implicit import eval_grads

InitFn = Callable[[PyTree, PyTree], PyTree]


def _describe(tree: PyTree) -> str:
    shapes = jax.tree_util.tree_map(lambda x: f"{x.dtype}{list(x.shape)}", tree)
    return str(shapes)


def initial_fast(
    init: InitFn | None, objective: Objective, slow: PyTree, fast: PyTree, hint: str = ""
) -> PyTree:
    """Compute the floating-point leaves of the initial fast parameters: `fast` itself
    when `init` is `None`, else `init(slow, fast_init)` on the full trees.

    Raises a `TypeError` at trace time when `init` returns a tree whose float leaves
    differ in structure, shape or dtype from those of `fast_init`.
    """
    if init is None:
        return fast
    full = init(
        eqx.combine(slow, objective.slow_static), eqx.combine(fast, objective.fast_static)
    )
    start = eqx.filter(full, is_floating_array)
    same_structure = jax.tree_util.tree_structure(start) == jax.tree_util.tree_structure(
        fast
    )
    same_leaves = same_structure and all(
        (x.shape, x.dtype) == (y.shape, y.dtype)
        for x, y in zip(
            jax.tree_util.tree_leaves(start), jax.tree_util.tree_leaves(fast), strict=True
        )
    )
    if not same_leaves:
        raise TypeError(
            "`init(slow, fast_init)` must return initial fast parameters whose "
            "floating-point leaves have the structure, shapes and dtypes of those of "
            f"`fast_init`.{hint}\n  init(slow, fast_init): {_describe(start)}\n"
            f"  fast_init: {_describe(fast)}"
        )
    return start


def run_optimizer(
    objective: Objective,
    slow: PyTree,
    fast: PyTree,
    state: optax.OptState,
    optimizer: optax.GradientTransformation,
    steps: int,
) -> tuple[PyTree, optax.OptState]:
    """Apply `steps` optimiser updates to the learning loss in `jax.lax.scan`, which
    reverse-mode differentiation can go through."""

    def loss_fn(f):
        return objective.learn(f, slow)[0]

    pass_extra_args = isinstance(optimizer, optax.GradientTransformationExtraArgs)

    def step(carry, _):
        fast, state = carry
        loss, grad = jax.value_and_grad(loss_fn)(fast)
        extra = dict(value=loss, grad=grad, value_fn=loss_fn) if pass_extra_args else {}
        updates, state = optimizer.update(grad, state, fast, **extra)
        return (optax.apply_updates(fast, updates), state), None

    (fast, state), _ = jax.lax.scan(step, (fast, state), length=steps)
    return fast, state


def adapted_solution(
    objective: Objective, slow: PyTree, fast: PyTree, steps: int
) -> InnerSolution:
    """Record a fixed-step inner run. Its status is successful unless a value is
    non-finite, because these estimators have no tolerance to meet."""
    fast = jax.lax.stop_gradient(fast)
    loss, grad = jax.value_and_grad(lambda f: objective.learn(f, slow)[0])(fast)
    grad_norm = tree_norm(grad)
    result = final_result(fast, loss, grad_norm, jnp.array(True))
    return InnerSolution(fast, jnp.array(steps), grad_norm, loss, result)


class AbstractUnrolledEstimator(AbstractEstimator):
    """An estimator that runs a fixed number of optimiser steps from an
    initialisation that the slow parameters may set, and assumes no equilibrium."""

    optimizer: eqx.AbstractVar[optax.GradientTransformation]
    steps: eqx.AbstractVar[int]
    init: eqx.AbstractVar[InitFn | None]

    def __check_init__(self):
        if not isinstance(self.optimizer, optax.GradientTransformation):
            raise TypeError(
                "`optimizer` must be an `optax.GradientTransformation`, for example "
                f"`optax.sgd(1e-2)`; got {type(self.optimizer).__name__}."
            )
        if not isinstance(self.steps, int) or self.steps < 0:
            raise ValueError(
                f"`steps` must be a non-negative Python int, got {self.steps!r}."
            )
        if self.init is not None and not callable(self.init):
            raise TypeError(
                "`init` must be `None` or a callable `(slow, fast_init) -> fast`, got "
                f"{type(self.init).__name__}."
            )


class Unrolled(AbstractUnrolledEstimator):
    r"""Backpropagation through learning: the exact gradient of the evaluation loss
    after a fixed number of optimiser steps, as in MAML.

    Starting from $\phi_0$ (`fast_init`, or `init(slow, fast_init)`), the estimator
    runs $T$ = `steps` updates of `optimizer` on the learning loss and returns the
    total derivative $dL^\text{eval}(\phi_T, \theta)/d\theta$ by reverse-mode
    differentiation through the loop. It includes every path through the slow
    parameters: the direct term, the learning loss at every step, and the
    initialisation when `init` is given. The loop is a `jax.lax.scan`, so memory
    grows linearly with $T$. No equilibrium is assumed. Reference: Finn, Abbeel and
    Levine, "Model-agnostic meta-learning for fast adaptation of deep networks",
    ICML 2017.

    The reported first phase is the adapted solution $\phi_T$ with `steps` $= T$;
    its status is successful unless a value is non-finite.

    NOTE: optimisers that run a `jax.lax.while_loop` in their update (such as the
    line search of `optax.lbfgs`) cannot be differentiated in reverse mode.

    **Arguments:**

    - `optimizer`: any `optax.GradientTransformation`, applied to the gradient of
        the learning loss at each step.
    - `steps`: the number of optimiser steps $T$.
    - `init`: `None` (the default), to start from `fast_init`, or a callable
        `init(slow, fast_init) -> fast` returning the initial fast parameters, such
        as `lambda slow, fast_init: slow` when the slow parameters are the
        initialisation (as in MAML). It receives the full trees, including leaves
        that are not floating-point arrays, and must return a tree whose
        floating-point leaves match those of `fast_init`.
    """

    optimizer: optax.GradientTransformation
    steps: int = eqx.field(static=True)
    init: InitFn | None = eqx.field(default=None, kw_only=True)

    def estimate(self, objective: Objective, slow: PyTree, fast: PyTree) -> Estimate:
        return _backprop(self, objective, slow, fast, truncation=self.steps)


class TruncatedUnrolled(AbstractUnrolledEstimator):
    r"""Truncated backpropagation through learning: backpropagate through the last
    `truncation` optimiser steps only.

    Runs the same $T$ = `steps` updates as [`eqcml.Unrolled`][], but stops the
    gradient on the fast parameters and optimiser state before the last
    $K$ = `truncation` steps, so memory grows with $K$ rather than $T$. The
    estimate keeps the direct term and the learning loss's dependence on the slow
    parameters during the last $K$ steps; with $K < T$ it drops the
    initialisation's. $K = T$ gives [`eqcml.Unrolled`][] and $K = 0$ the direct
    term alone. Reference: Shaban, Cheng, Hatch and Boots, "Truncated
    backpropagation for bilevel optimization", AISTATS 2019.

    **Arguments:** `optimizer`, `steps` and `init` as for [`eqcml.Unrolled`][], and

    - `truncation`: the number of final steps $K$ to backpropagate through,
        `0 <= truncation <= steps`.
    """

    optimizer: optax.GradientTransformation
    steps: int = eqx.field(static=True)
    truncation: int = eqx.field(static=True)
    init: InitFn | None = eqx.field(default=None, kw_only=True)

    def __check_init__(self):
        if not isinstance(self.truncation, int) or not (
            0 <= self.truncation <= self.steps
        ):
            raise ValueError(
                "`truncation` must be a Python int between 0 and `steps` "
                f"({self.steps}), got {self.truncation!r}."
            )

    def estimate(self, objective: Objective, slow: PyTree, fast: PyTree) -> Estimate:
        return _backprop(self, objective, slow, fast, truncation=self.truncation)


def _backprop(
    estimator: Unrolled | TruncatedUnrolled,
    objective: Objective,
    slow: PyTree,
    fast: PyTree,
    truncation: int,
) -> Estimate:
    optimizer, steps = estimator.optimizer, estimator.steps

    def meta_loss(slow):
        start = initial_fast(estimator.init, objective, slow, fast)
        if truncation < steps:
            # Only the last `truncation` steps are differentiated: the prefix runs on
            # stopped inputs, so no residuals are stored for it.
            start = jax.lax.stop_gradient(start)
            start, state = run_optimizer(
                objective,
                jax.lax.stop_gradient(slow),
                start,
                optimizer.init(start),
                optimizer,
                steps - truncation,
            )
        else:
            state = optimizer.init(start)
        end, _ = run_optimizer(objective, slow, start, state, optimizer, truncation)
        value, _ = objective.evaluate(end, slow)
        return value, end

    (_, end), grad = jax.value_and_grad(meta_loss, has_aux=True)(slow)
    return Estimate(grad, adapted_solution(objective, slow, end, steps))


class FirstOrderUnrolled(AbstractUnrolledEstimator):
    r"""First-order backpropagation through learning, as in first-order MAML.

    Runs $T$ = `steps` updates of `optimizer` from $\phi_0$ as
    [`eqcml.Unrolled`][] does, then drops every second derivative of the learning
    loss along the trajectory: the Jacobian of each step is replaced by the
    identity, so that $d\phi_T/d\phi_0 = I$, and the learning loss contributes
    nothing else. The estimate is

    $\partial_\theta L^\text{eval}(\phi_T, \theta) +
    \left(\frac{\partial\phi_0}{\partial\theta}\right)^\top
    \partial_\phi L^\text{eval}(\phi_T, \theta)$:

    the gradient of the evaluation loss at the adapted parameters, passed straight
    to the slow parameters that define the initialisation through `init`, plus the
    direct term. Without `init` only the direct term remains. Nothing is stored per
    step. Reference: Finn, Abbeel and Levine, "Model-agnostic meta-learning for fast
    adaptation of deep networks", ICML 2017.

    **Arguments:** as for [`eqcml.Unrolled`][].
    """

    optimizer: optax.GradientTransformation
    steps: int = eqx.field(static=True)
    init: InitFn | None = eqx.field(default=None, kw_only=True)

    def estimate(self, objective: Objective, slow: PyTree, fast: PyTree) -> Estimate:
        start, init_vjp = jax.vjp(
            lambda s: initial_fast(self.init, objective, s, fast), slow
        )
        end, _ = run_optimizer(
            objective, slow, start, self.optimizer.init(start), self.optimizer, self.steps
        )
        eval_grad, direct = eval_grads(objective, slow, end)
        (through_init,) = init_vjp(eval_grad)
        grad = jax.tree_util.tree_map(jnp.add, direct, through_init)
        return Estimate(grad, adapted_solution(objective, slow, end, self.steps))
