"""A ready-made bilevel problem: learning per-parameter L2 strengths of an MLP
regressor, the hyperparameter-optimisation task used to verify the contrastive rule."""

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import PRNGKeyArray, Scalar

from .._problem import Problem
from ._complex_synapse import LearnedL2


def _mse(model, split) -> Scalar:
    x, y = split
    prediction = jax.vmap(model)(x)
    return jnp.mean(jnp.square(prediction - y))


def mse_l2_problem() -> Problem:
    """The learned-L2 regression problem over `data = {"learn": (x, y), "eval": (x, y)}`.

    The learning loss is the mean squared error on `data["learn"]` plus the slow
    parameters' penalty `slow.penalty(fast)`; the evaluation loss is the mean
    squared error on `data["eval"]`. Fast parameters are a model `x -> y` applied
    row by row, such as an `equinox.nn.MLP`.
    """

    def learn_loss(fast, slow, data):
        return _mse(fast, data["learn"]) + slow.penalty(fast)

    def eval_loss(fast, slow, data):
        del slow
        return _mse(fast, data["eval"])

    return Problem(learn_loss, eval_loss)


def mlp_l2_regression(
    key: PRNGKeyArray,
    in_size: int,
    *,
    width: int = 20,
    depth: int = 1,
    activation: Callable = jnp.tanh,
    strength: float = 1e-3,
    dtype=jnp.float64,
) -> tuple[Problem, LearnedL2, eqx.nn.MLP]:
    """Build the learned-L2 regression problem for an MLP with scalar output.

    **Returns:**

    `(problem, slow, fast)`: the problem of [`eqcml.models.mse_l2_problem`][], the
    slow parameters (a [`eqcml.LearnedL2`][] with every strength at `strength`) and
    the initial fast parameters (an `equinox.nn.MLP` with `depth` hidden layers of
    `width` units).
    """
    model = eqx.nn.MLP(in_size, 1, width, depth, activation=activation, key=key, dtype=dtype)
    return mse_l2_problem(), LearnedL2.init(model, strength), model
