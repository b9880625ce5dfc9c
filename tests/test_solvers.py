"""Inner solvers: stopping rules, step counts, statuses and optimiser variants."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import eqcml

from .helpers import quadratic_model


def _loss_and_minimiser():
    model, omega = quadratic_model(0, 4)
    return (lambda phi: model.learn_loss(phi, omega)), model.solution(omega, 0.0)


@pytest.mark.parametrize(
    "solver",
    [
        eqcml.OptaxSolver(optax.sgd(0.3), max_steps=5000, atol=1e-10),
        eqcml.OptaxSolver(optax.adam(0.05), max_steps=20000, atol=1e-8),
        eqcml.OptaxSolver(optax.lbfgs(), max_steps=200, atol=1e-10),
        eqcml.GradientFlowSolver(atol=1e-9, rtol=0.0),
    ],
    ids=["sgd", "adam", "lbfgs", "gradient-flow"],
)
def test_solver_converges_to_minimiser(solver):
    loss, minimiser = _loss_and_minimiser()
    solution = jax.jit(solver.solve, static_argnums=0)(loss, jnp.zeros(4))
    assert solution.result == eqcml.RESULTS.successful
    assert float(solution.grad_norm) <= solver.atol
    assert 0 < int(solution.steps) < solver.max_steps
    np.testing.assert_allclose(solution.fast, minimiser, atol=1e-6)
    np.testing.assert_allclose(solution.loss, loss(solution.fast))


def test_optax_solver_step_count_matches_tolerance():
    loss, _ = _loss_and_minimiser()
    grad_norm = lambda phi: jnp.linalg.norm(jax.grad(loss)(phi))
    solver = eqcml.OptaxSolver(optax.sgd(0.1), max_steps=1000, rtol=1e-3)
    solution = solver.solve(loss, jnp.zeros(4))
    threshold = 1e-3 * grad_norm(jnp.zeros(4))
    # Replaying the updates: the solver stops at the first iterate under the threshold.
    phi, steps = jnp.zeros(4), 0
    while grad_norm(phi) > threshold:
        phi, steps = phi - 0.1 * jax.grad(loss)(phi), steps + 1
    assert int(solution.steps) == steps
    np.testing.assert_allclose(solution.fast, phi, rtol=1e-12)


def test_fixed_budget_runs_exactly_max_steps():
    loss, _ = _loss_and_minimiser()
    solution = eqcml.OptaxSolver(optax.sgd(0.1), max_steps=17).solve(loss, jnp.zeros(4))
    assert int(solution.steps) == 17
    assert solution.result == eqcml.RESULTS.max_steps_reached


def test_zero_steps_returns_start():
    loss, _ = _loss_and_minimiser()
    start = jnp.arange(4.0)
    solution = eqcml.OptaxSolver(optax.sgd(0.1), max_steps=0).solve(loss, start)
    np.testing.assert_array_equal(solution.fast, start)
    assert int(solution.steps) == 0


def test_gradient_flow_reports_max_steps():
    loss, _ = _loss_and_minimiser()
    solution = eqcml.GradientFlowSolver(max_steps=3, atol=1e-12).solve(loss, jnp.zeros(4))
    assert solution.result == eqcml.RESULTS.max_steps_reached
    assert int(solution.steps) == 3


def test_solvers_vmap_over_starting_points():
    loss, minimiser = _loss_and_minimiser()
    starts = jnp.stack([jnp.zeros(4), jnp.ones(4), -3 * jnp.ones(4)])
    solver = eqcml.OptaxSolver(optax.sgd(0.3), max_steps=5000, atol=1e-10)
    solutions = jax.vmap(lambda s: solver.solve(loss, s))(starts)
    np.testing.assert_allclose(solutions.fast, jnp.broadcast_to(minimiser, (3, 4)), atol=1e-9)
    for i, start in enumerate(starts):
        assert int(solutions.steps[i]) == int(solver.solve(loss, start).steps)


def test_pytree_fast_parameters():
    target = {"a": jnp.array([1.0, 2.0]), "b": (jnp.array(3.0), None)}
    loss = lambda p: jnp.sum((p["a"] - target["a"]) ** 2) + (p["b"][0] - 3.0) ** 2
    start = {"a": jnp.zeros(2), "b": (jnp.array(0.0), None)}
    for solver in (
        eqcml.OptaxSolver(optax.sgd(0.2), max_steps=500, atol=1e-10),
        eqcml.GradientFlowSolver(atol=1e-9, rtol=0.0),
    ):
        solution = solver.solve(loss, start)
        np.testing.assert_allclose(solution.fast["a"], target["a"], atol=1e-8)
        np.testing.assert_allclose(solution.fast["b"][0], 3.0, atol=1e-8)
        assert solution.fast["b"][1] is None


def test_gradient_flow_under_vmap_and_jit():
    loss, minimiser = _loss_and_minimiser()
    starts = jnp.stack([jnp.zeros(4), 2 * jnp.ones(4)])
    solver = eqcml.GradientFlowSolver(atol=1e-9, rtol=0.0)
    solutions = jax.jit(jax.vmap(lambda s: solver.solve(loss, s)))(starts)
    assert bool(jnp.all(solutions.result == eqcml.RESULTS.successful))
    np.testing.assert_allclose(solutions.fast, jnp.broadcast_to(minimiser, (2, 4)), atol=1e-8)
