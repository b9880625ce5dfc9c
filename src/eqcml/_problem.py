"""The bilevel problem: a learning loss minimised by the inner learning process and
an evaluation loss whose value at that minimiser is minimised over slow parameters."""

from collections.abc import Callable
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PyTree, Scalar

from .internal import is_floating_array


class Problem(eqx.Module):
    r"""A bilevel problem over fast parameters $\phi$ and slow parameters $\theta$.

    The inner learning process minimises `learn_loss` over $\phi$; the meta-gradient
    is the total derivative of `eval_loss` at that minimiser with respect to
    $\theta$:

    $\min_\theta L^\text{eval}(\phi^*_\theta, \theta)$ subject to
    $\phi^*_\theta \in \arg\min_\phi L^\text{learn}(\phi, \theta)$.

    The contrastive estimator also minimises the augmented loss
    $\mathcal{L}(\phi, \theta, \beta) = L^\text{learn}(\phi, \theta) + \beta
    L^\text{eval}(\phi, \theta)$.

    **Arguments:**

    - `learn_loss`: a function `(fast, slow, data) -> loss`, returning a scalar, or
        a pair `(loss, aux)` when the estimator is called with `has_aux=True`.
    - `eval_loss`: a function with the same signature and return convention.

    Fast and slow parameters are arbitrary PyTrees, typically the two halves of an
    Equinox model split with `equinox.partition`. Only their floating-point array
    leaves are optimised and differentiated; every other leaf (activation functions,
    integer buffers, complex arrays, Python scalars) is passed through unchanged, as in
    `equinox.filter_grad`. `data` is any PyTree; it is passed unchanged to both
    losses, so it usually holds both the learning and the evaluation split.
    """

    learn_loss: Callable[..., Any]
    eval_loss: Callable[..., Any]

    def __check_init__(self):
        for name in ("learn_loss", "eval_loss"):
            if not callable(getattr(self, name)):
                raise TypeError(
                    f"`{name}` must be a callable `(fast, slow, data) -> loss`, got "
                    f"{type(getattr(self, name)).__name__}."
                )


def _call_loss(fn, name: str, has_aux: bool, fast, slow, data) -> tuple[Scalar, Any]:
    out = fn(fast, slow, data)
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise TypeError(
                f"`{name}` must return a pair `(loss, aux)` when `has_aux=True`, got "
                f"{type(out).__name__}."
            )
        value, aux = out
    else:
        if isinstance(out, tuple):
            raise TypeError(
                f"`{name}` returned a tuple; pass `has_aux=True` if its second element "
                "is auxiliary output."
            )
        value, aux = out, None
    if not hasattr(value, "shape") or not hasattr(value, "dtype"):
        value = jnp.asarray(value)
    if value.shape != ():
        raise ValueError(
            f"`{name}` must return a scalar loss, got an array of shape {value.shape}. "
            "Reduce it first, for example with `jnp.mean`."
        )
    if not jnp.issubdtype(value.dtype, jnp.floating):
        raise TypeError(
            f"`{name}` must return a floating-point loss, got dtype {value.dtype}."
        )
    return value, aux


class Objective(eqx.Module):
    """A problem bound to one task's data, acting on the floating-point leaves only.

    Estimators work with `fast` and `slow` trees that contain only the
    differentiable leaves (`None` elsewhere). This module recombines them with the
    remaining leaves before calling the user's losses.
    """

    problem: Problem
    has_aux: bool = eqx.field(static=True)
    fast_static: PyTree
    slow_static: PyTree
    data: PyTree

    def _args(self, fast, slow):
        return (
            eqx.combine(fast, self.fast_static),
            eqx.combine(slow, self.slow_static),
            self.data,
        )

    def learn(self, fast: PyTree, slow: PyTree) -> tuple[Scalar, Any]:
        """Return the learning loss and its auxiliary output."""
        return _call_loss(
            self.problem.learn_loss, "learn_loss", self.has_aux, *self._args(fast, slow)
        )

    def evaluate(self, fast: PyTree, slow: PyTree) -> tuple[Scalar, Any]:
        """Return the evaluation loss and its auxiliary output."""
        return _call_loss(
            self.problem.eval_loss, "eval_loss", self.has_aux, *self._args(fast, slow)
        )

    def augmented(self, fast: PyTree, slow: PyTree, beta) -> Scalar:
        """Return the augmented loss `learn + beta * eval`, skipping `eval_loss` when
        `beta=0`."""
        learn, _ = self.learn(fast, slow)
        if isinstance(beta, (int, float)) and beta == 0:
            return learn
        value, _ = self.evaluate(fast, slow)
        return learn + jnp.asarray(beta, learn.dtype) * value


def bind(problem: Problem, has_aux: bool, slow, fast_init, data):
    """Split the parameters into their floating-point parts and an `Objective`.

    Raises a `ValueError` naming the argument when either parameter tree has no
    floating-point leaves, and re-raises any error the losses raise when traced with
    these arguments, with the argument structures attached.
    """
    if not isinstance(problem, Problem):
        raise TypeError(
            f"`problem` must be an `eqcml.Problem`, got {type(problem).__name__}."
        )
    for name, tree in (("slow", slow), ("fast_init", fast_init)):
        leaves = jax.tree_util.tree_leaves(tree)
        if not any(is_floating_array(x) for x in leaves):
            kinds = sorted(
                {str(x.dtype) if hasattr(x, "dtype") else type(x).__name__ for x in leaves}
            ) or ["none"]
            raise ValueError(
                f"`{name}` has no floating-point array leaves to "
                f"{'differentiate' if name == 'slow' else 'optimise'} (leaf kinds: "
                f"{', '.join(kinds)}). Pass real float arrays, for example "
                "`jnp.asarray(x, dtype=float)`; integer, boolean and complex arrays and "
                "Python numbers are treated as constants."
            )
    fast, fast_static = eqx.partition(fast_init, is_floating_array)
    slow_diff, slow_static = eqx.partition(slow, is_floating_array)
    objective = Objective(problem, has_aux, fast_static, slow_static, data)
    for name, loss in (("learn_loss", objective.learn), ("eval_loss", objective.evaluate)):
        try:
            jax.eval_shape(loss, fast, slow_diff)
        except Exception as error:
            if str(error).startswith(f"`{name}`"):
                raise
            raise ValueError(
                f"`{name}(fast, slow, data)` failed when traced with the given "
                f"arguments; check that `fast_init`, `slow` and `data` have the "
                f"structure the loss expects.\n  fast_init: "
                f"{jax.tree_util.tree_structure(fast_init)}\n  slow: "
                f"{jax.tree_util.tree_structure(slow)}\n  data: "
                f"{jax.tree_util.tree_structure(data)}\nOriginal error: "
                f"{type(error).__name__}: {error}"
            ) from error
    return objective, fast, slow_diff, slow_static
