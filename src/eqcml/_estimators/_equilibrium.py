"""Estimators that differentiate an equilibrium, and the trace-time check that warns
when the slow parameters cannot move that equilibrium."""

import warnings

import jax
import jax.extend.core as jex
from jaxtyping import PyTree

from .._problem import Objective
from ._base import AbstractEstimator


class AbstractEquilibriumEstimator(AbstractEstimator):
    """An estimator that assumes the inner learning process reaches an equilibrium.

    Its meta-gradient is a function of the equilibrium $\\phi^*_\\theta$ alone, so slow
    parameters that only set where the inner learning starts get a meta-gradient of
    exactly zero. [`eqcml.meta_solve`][] detects such parameters when it traces the
    losses and warns; [`eqcml.Unrolled`][] and [`eqcml.Reptile`][] differentiate
    through the learning trajectory instead.
    """


def _inner_jaxpr(eqn) -> jex.Jaxpr | None:
    """Return the body of a call-like equation whose inputs and outputs map one to
    one onto the equation's own, or `None` for any other equation."""
    bodies = [
        value
        for value in eqn.params.values()
        if isinstance(value, (jex.Jaxpr, jex.ClosedJaxpr))
    ]
    if len(bodies) != 1:
        return None
    body = bodies[0].jaxpr if isinstance(bodies[0], jex.ClosedJaxpr) else bodies[0]
    if len(body.invars) != len(eqn.invars) or len(body.outvars) != len(eqn.outvars):
        return None
    return body


def _live_inputs(jaxpr: jex.Jaxpr, live_outputs: list[bool]) -> list[bool]:
    """Compute by backward liveness whether each input of `jaxpr` reaches a live
    output.

    Equations with one inner jaxpr (`jit`, `custom_jvp_call`, `checkpoint`, ...) are
    analysed recursively. Any other equation with a live output marks all its
    inputs live, so the analysis may report a dependence that is not there, but
    never misses one.
    """
    live = {
        var
        for var, flag in zip(jaxpr.outvars, live_outputs, strict=True)
        if flag and isinstance(var, jex.Var)
    }
    for eqn in reversed(jaxpr.eqns):
        outputs = [var in live for var in eqn.outvars]
        if not any(outputs):
            continue
        body = _inner_jaxpr(eqn)
        inputs = [True] * len(eqn.invars) if body is None else _live_inputs(body, outputs)
        for var, flag in zip(eqn.invars, inputs, strict=True):
            if flag and isinstance(var, jex.Var):
                live.add(var)
    return [var in live for var in jaxpr.invars]


def unused_leaves(fn, tree: PyTree) -> list[str]:
    """Return the paths of the array leaves of `tree` that no output of `fn(tree)`
    depends on structurally, that is, in the traced program rather than
    numerically."""
    leaves_with_paths, treedef = jax.tree_util.tree_flatten_with_path(tree)
    paths = [jax.tree_util.keystr(path) for path, _ in leaves_with_paths]
    leaves = [leaf for _, leaf in leaves_with_paths]
    closed = jax.make_jaxpr(lambda *xs: fn(jax.tree_util.tree_unflatten(treedef, xs)))(
        *leaves
    )
    live = _live_inputs(closed.jaxpr, [True] * len(closed.jaxpr.outvars))
    return [path for path, flag in zip(paths, live, strict=True) if not flag]


def warn_if_zero_by_construction(
    estimator: AbstractEstimator, objective: Objective, slow: PyTree, fast: PyTree
) -> None:
    """Warn when an equilibrium estimator is asked for a meta-gradient that is zero by
    construction.

    An equilibrium estimator's meta-gradient depends on the slow parameters only
    through the evaluation loss (the direct term) and through the gradient of the
    learning loss with respect to the fast parameters (the cross term). A slow leaf
    that neither depends on gets a zero meta-gradient whatever the data, which is
    what happens when the slow parameters set the inner learning's initialisation.
    The check traces both functions once, at trace time, and costs nothing at run
    time. It does nothing for estimators that are not equilibrium estimators.
    """
    if not isinstance(estimator, AbstractEquilibriumEstimator):
        return

    def dependents(slow):
        learn_grad = jax.grad(lambda f: objective.learn(f, slow)[0])(fast)
        value, _ = objective.evaluate(fast, slow)
        return learn_grad, value

    unused = [f"slow{path}" for path in unused_leaves(dependents, slow)]
    if unused:
        name = type(estimator).__name__
        warnings.warn(
            f"The meta-gradient of the slow parameters {', '.join(unused)} is zero by "
            f"construction for the equilibrium estimator `{name}`: neither the "
            "evaluation loss nor the gradient of the learning loss with respect to the "
            "fast parameters depends on them, and the equilibrium of the inner problem "
            "does not depend on the initialisation. If these parameters set the "
            "initial fast parameters, use `eqcml.Unrolled(..., init=...)` or "
            "`eqcml.Reptile(...)`, which differentiate through the learning trajectory.",
            UserWarning,
            stacklevel=2,
        )

