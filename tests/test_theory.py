"""The contrastive estimate against the theory: bias orders, the closed-form
quadratic model, the finite-difference bounds, Theorem 1 and Corollary 1."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.optimize
from hypothesis import given, settings

import eqcml
from eqcml import theory

from .helpers import loglog_slope, NewtonSolver, quadratic_cases, quadratic_model, relative_error

BETAS = np.logspace(-4, -2, 5)


@given(quadratic_cases)
@settings(max_examples=5)
def test_bias_order_forward_and_symmetric(case):
    model, omega = quadratic_model(*case)
    exact = model.meta_grad(omega)
    phi0 = jnp.zeros_like(omega)
    solver = NewtonSolver()

    def errors(symmetric):
        @jax.jit
        @jax.vmap
        def estimate(beta):
            grad = eqcml.contrastive_grad(model.problem(), beta, solver, symmetric=symmetric)
            return grad(omega, phi0, None)

        return [relative_error(g, exact) for g in estimate(jnp.asarray(BETAS))]

    forward_slope = loglog_slope(BETAS, errors(False))
    symmetric_slope = loglog_slope(BETAS, errors(True))
    assert abs(forward_slope - 1) < 0.1
    assert abs(symmetric_slope - 2) < 0.1


@given(quadratic_cases)
def test_closed_form_matches_autodiff_through_solve(case):
    model, omega = quadratic_model(*case)

    def eval_at_solution(omega):
        return model.eval_loss(model.solution(omega, 0.0), omega)

    autodiff = jax.grad(eval_at_solution)(omega)
    np.testing.assert_allclose(model.meta_grad(omega), autodiff, rtol=0, atol=1e-10)


@given(quadratic_cases)
@settings(max_examples=5)
def test_converged_solvers_match_predicted_error(case):
    model, omega = quadratic_model(*case)
    exact = model.meta_grad(omega)
    solver = eqcml.OptaxSolver(optax.sgd(0.3), max_steps=20_000, atol=1e-13)
    for beta in (1e-3, 1e-1):
        grad = jax.jit(eqcml.contrastive_grad(model.problem(), beta, solver))
        estimate = grad(omega, jnp.zeros_like(omega), None)
        measured = jnp.linalg.norm(estimate - exact)
        predicted = model.finite_difference_error(omega, beta)
        np.testing.assert_allclose(measured, predicted, rtol=1e-6)
        np.testing.assert_allclose(estimate, model.contrastive_estimate(omega, beta), atol=1e-9)


@given(quadratic_cases)
def test_finite_difference_error_within_bounds(case):
    model, omega = quadratic_model(*case)
    for beta in (1e-3, 0.1, 1.0, 10.0):
        error = model.finite_difference_error(omega, beta)
        lower, upper = model.finite_difference_bounds(omega, beta)
        assert lower * (1 - 1e-10) <= error
        assert error <= upper * (1 + 1e-10)


@given(quadratic_cases)
@settings(max_examples=5)
def test_theorem1_bound_holds_for_inexact_solutions(case):
    model, omega = quadratic_model(*case)
    exact = model.meta_grad(omega)
    constants = model.theorem1_constants(omega)
    for steps in (2, 10, 50):
        solver = eqcml.OptaxSolver(optax.sgd(0.2), max_steps=steps)

        @jax.jit
        @jax.vmap
        def check(beta):
            solve = eqcml.contrastive_solve(model.problem(), beta, solver)
            solution = solve(omega, jnp.zeros_like(omega), None)
            delta = jnp.linalg.norm(solution.free.fast - model.solution(omega, 0.0))
            delta_prime = jnp.linalg.norm(solution.nudged[0].fast - model.solution(omega, beta))
            error = jnp.linalg.norm(solution.grad - exact)
            return error, theory.theorem1_bound(delta, delta_prime, beta, **constants)

        errors, bounds = check(jnp.array([1e-2, 0.1, 1.0]))
        assert jnp.all(errors <= bounds * (1 + 1e-9))


@pytest.mark.parametrize("b_learn,c", [(1.0, 1.0), (0.5, 3.0), (2.0, 0.7)])
@pytest.mark.parametrize("delta", [1e-6, 1e-4, 1e-2, 0.1])
def test_corollary1_beta_minimises_bound(b_learn, c, delta):
    delta_prime = 0.5 * delta
    kwargs = dict(b_learn=b_learn, b_eval=1.0, c=c)

    def bound(log_beta):
        return float(theory.theorem1_bound(delta, delta_prime, np.exp(log_beta), **kwargs))

    numerical = scipy.optimize.minimize_scalar(bound, bounds=(-30, 10), method="bounded",
                                               options={"xatol": 1e-10})
    beta_star = theory.optimal_beta(delta, delta_prime, b_learn=b_learn, c=c)
    np.testing.assert_allclose(np.log(beta_star), numerical.x, atol=1e-4)
    best = theory.best_bound(delta, delta_prime, **kwargs)
    np.testing.assert_allclose(best, bound(np.log(beta_star)), rtol=1e-12)
    assert best <= numerical.fun * (1 + 1e-9)
    assert best <= theory.best_bound_upper(delta, delta_prime, **kwargs)


def test_optimal_beta_infinite_without_minimiser():
    assert np.isinf(theory.optimal_beta(0.6, 0.6, b_learn=1.0, c=1.0))
    assert np.isfinite(theory.best_bound(0.6, 0.6))


def test_bound_terms():
    value = theory.theorem1_bound(0.1, 0.2, 0.5, b_learn=2.0, b_eval=3.0, c=4.0)
    np.testing.assert_allclose(value, 2.0 * 0.3 / 0.5 + 3.0 * 0.2 + 4.0 * 0.5 / 1.5)


def test_sampled_model_matches_published_setup():
    model, omega = theory.QuadraticModel.sample(jax.random.key(0), 50)
    np.testing.assert_allclose(jnp.diag(model.hessian), 1.0 / np.arange(1, 51))
    assert omega.shape == (50,)
    assert 1.0 < float(jnp.std(omega)) < 3.0


def test_bounds_reject_invalid_inputs():
    assert np.isnan(theory.theorem1_bound(1e-6, 1e-6, -0.5))
    assert np.isnan(theory.theorem1_bound(-1.0, 0.0, 0.1))
    assert np.isnan(theory.best_bound(jnp.nan, 0.0))
    assert np.isnan(theory.optimal_beta(-1.0, 0.0))


@pytest.mark.parametrize(
    "hessian,strength",
    [
        (jnp.eye(2), -1.0),
        (jnp.array([[1.0, 0.5], [0.0, 1.0]]), 1.0),
        (jnp.diag(jnp.array([1.0, -1.0])), 1.0),
    ],
)
def test_quadratic_model_rejects_invalid_fields(hessian, strength):
    with pytest.raises(ValueError):
        theory.QuadraticModel(hessian, jnp.zeros(2), jnp.zeros(2), jnp.asarray(strength))
