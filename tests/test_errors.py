"""Bad input gets a clear error at trace time or a reported, raising status at run
time; stopping at max_steps is reported without raising."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import eqcml

from .helpers import NewtonSolver, quadratic_model

SOLVER = eqcml.OptaxSolver(optax.sgd(0.3), max_steps=50)


@pytest.fixture
def quadratic():
    model, omega = quadratic_model(0, 3)
    return model.problem(), omega, jnp.zeros(3)


@pytest.mark.parametrize("beta", [0.0, 0, float("nan"), float("inf"), -float("inf")])
def test_invalid_beta_rejected(quadratic, beta):
    problem, _, _ = quadratic
    with pytest.raises(ValueError, match="beta"):
        eqcml.contrastive_grad(problem, beta, SOLVER)


def test_negative_beta_rejected_when_symmetric(quadratic):
    problem, omega, phi = quadratic
    with pytest.raises(ValueError, match="positive when `symmetric=True`"):
        eqcml.contrastive_grad(problem, -0.1, SOLVER, symmetric=True)
    # The forward estimate accepts a negative beta.
    grad = eqcml.contrastive_grad(problem, -0.1, SOLVER)(omega, phi, None)
    assert np.all(np.isfinite(grad))


def test_traced_zero_beta_raises_at_run_time(quadratic):
    problem, omega, phi = quadratic

    @eqx.filter_jit
    def grad(beta):
        return eqcml.contrastive_grad(problem, beta, SOLVER)(omega, phi, None)

    assert np.all(np.isfinite(grad(jnp.asarray(0.1))))
    with pytest.raises(eqx.EquinoxRuntimeError, match="beta"):
        grad(jnp.asarray(0.0))


def test_non_scalar_beta_rejected(quadratic):
    problem, _, _ = quadratic
    with pytest.raises(ValueError, match="scalar"):
        eqcml.contrastive_grad(problem, jnp.array([0.1, 0.2]), SOLVER)


def test_non_scalar_loss_rejected():
    problem = eqcml.Problem(lambda f, s, d: (f - s) ** 2, lambda f, s, d: jnp.sum(f))
    with pytest.raises(ValueError, match="`learn_loss` must return a scalar loss.*shape"):
        eqcml.contrastive_grad(problem, 0.1, SOLVER)(jnp.ones(3), jnp.zeros(3), None)


def test_integer_loss_rejected():
    problem = eqcml.Problem(lambda f, s, d: jnp.sum(f * s), lambda f, s, d: jnp.array(1))
    with pytest.raises(TypeError, match="`eval_loss` must return a floating-point loss"):
        eqcml.contrastive_grad(problem, 0.1, SOLVER)(jnp.ones(3), jnp.zeros(3), None)


def test_aux_mismatch_rejected(quadratic):
    _, omega, phi = quadratic
    problem = eqcml.Problem(lambda f, s, d: (jnp.sum(f**2), 1.0), lambda f, s, d: jnp.sum(f))
    with pytest.raises(TypeError, match="has_aux=True"):
        eqcml.contrastive_grad(problem, 0.1, SOLVER)(omega, phi, None)
    with pytest.raises(TypeError, match="pair `\\(loss, aux\\)`"):
        eqcml.contrastive_grad(problem, 0.1, SOLVER, has_aux=True)(omega, phi, None)


@pytest.mark.parametrize(
    "slow", [{}, None, {"a": 1, "b": 2.0}, jnp.array([1, 2]), (jnp.array(True),)]
)
def test_slow_without_float_leaves_rejected(quadratic, slow):
    problem, _, phi = quadratic
    with pytest.raises(ValueError, match="`slow` has no floating-point array leaves"):
        eqcml.contrastive_grad(problem, 0.1, SOLVER)(slow, phi, None)


def test_fast_without_float_leaves_rejected(quadratic):
    problem, omega, _ = quadratic
    with pytest.raises(ValueError, match="`fast_init` has no floating-point array leaves"):
        eqcml.contrastive_grad(problem, 0.1, SOLVER)(omega, jnp.zeros(3, int), None)


def test_structure_mismatch_names_arguments():
    def learn_loss(fast, slow, data):
        x, y = data["learn"]
        return jnp.mean((x @ fast["w"] - y) ** 2) + jnp.sum(slow * fast["w"] ** 2)

    problem = eqcml.Problem(learn_loss, learn_loss)
    fast = {"w": jnp.zeros(3)}
    data = {"learn": (jnp.ones((4, 3)), jnp.ones(4))}
    grad = eqcml.contrastive_grad(problem, 0.1, SOLVER)
    assert np.all(np.isfinite(grad(jnp.ones(3), fast, data)))
    with pytest.raises(ValueError, match="failed when traced.*structure the loss expects"):
        grad(jnp.ones(3), {"v": jnp.zeros(3)}, data)
    with pytest.raises(ValueError, match="learn_loss.*data"):
        grad(jnp.ones(3), fast, {"train": data["learn"]})
    with pytest.raises(ValueError, match="failed when traced"):
        grad(jnp.ones(5), fast, data)


# The test suite type-checks annotations with beartype, which may reject a wrong
# argument type before eqcml's own check does; both errors name the argument.


def test_non_problem_rejected():
    with pytest.raises(TypeError, match="problem"):
        eqcml.contrastive_grad(lambda f, s, d: 0.0, 0.1, SOLVER)(jnp.ones(1), jnp.ones(1), None)
    with pytest.raises(TypeError, match="learn_loss"):
        eqcml.Problem("loss", lambda f, s, d: 0.0)


def test_invalid_estimator_and_solver_rejected(quadratic):
    problem, _, _ = quadratic
    with pytest.raises(TypeError, match="estimator"):
        eqcml.meta_grad(problem, "contrastive")
    with pytest.raises(TypeError, match="solver"):
        eqcml.contrastive_grad(problem, 0.1, optax.sgd(0.1))


def test_nonfinite_iterates_raise_and_report(quadratic):
    problem, omega, phi = quadratic
    diverging = eqcml.OptaxSolver(optax.sgd(50.0), max_steps=500)
    with pytest.raises(eqx.EquinoxRuntimeError, match="non-finite"):
        eqcml.contrastive_grad(problem, 0.1, diverging)(omega, phi, None)
    solution = eqcml.contrastive_solve(problem, 0.1, diverging, throw=False)(omega, phi, None)
    assert solution.result == eqcml.RESULTS.nonfinite
    assert solution.free.result == eqcml.RESULTS.nonfinite
    assert int(solution.free.steps) < 500


def test_nonfinite_loss_value_raises():
    problem = eqcml.Problem(
        lambda f, s, d: jnp.sum((f - s) ** 2), lambda f, s, d: jnp.log(jnp.sum(f) - 10.0)
    )
    with pytest.raises(eqx.EquinoxRuntimeError, match="non-finite"):
        eqcml.contrastive_grad(problem, 0.1, NewtonSolver())(jnp.ones(2), jnp.zeros(2), None)


def test_max_steps_reported_without_raising(quadratic):
    problem, omega, phi = quadratic
    short = eqcml.OptaxSolver(optax.sgd(0.01), max_steps=3, atol=1e-8)
    solution = eqcml.contrastive_solve(problem, 0.1, short)(omega, phi, None)
    assert solution.result == eqcml.RESULTS.max_steps_reached
    assert solution.free.result == eqcml.RESULTS.max_steps_reached
    assert int(solution.free.steps) == 3
    assert float(solution.free.grad_norm) > 1e-8
    assert np.all(np.isfinite(solution.grad))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(max_steps=-1), "max_steps"),
        (dict(max_steps=10.5), "max_steps"),
        (dict(max_steps=10, atol=-1.0), "atol"),
        (dict(max_steps=10, rtol=float("nan")), "rtol"),
    ],
)
def test_invalid_optax_solver_fields(kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        eqcml.OptaxSolver(optax.sgd(0.1), **kwargs)


def test_invalid_optimizer_rejected():
    with pytest.raises(TypeError, match="optimizer"):
        eqcml.OptaxSolver(lambda g: g, max_steps=10)


def test_gradient_flow_needs_a_tolerance():
    with pytest.raises(ValueError, match="both zero"):
        eqcml.GradientFlowSolver(atol=0.0, rtol=0.0)
    with pytest.raises(ValueError, match="positive and finite"):
        eqcml.GradientFlowSolver(t1=float("inf"))


def _offset_problem():
    return eqcml.Problem(
        lambda x, t, d: 0.5 * jnp.sum((x - t) ** 2), lambda x, t, d: 0.5 * jnp.sum((x - 1.0) ** 2)
    )


def test_nudge_below_tolerance_raises_and_reports():
    coarse = eqcml.OptaxSolver(optax.lbfgs(), max_steps=200, atol=1e-6)
    args = (jnp.zeros(3), jnp.zeros(3), None)
    with pytest.raises(eqx.EquinoxRuntimeError, match="took no step"):
        eqcml.contrastive_grad(_offset_problem(), 5e-7, coarse)(*args)
    solution = eqcml.contrastive_solve(_offset_problem(), 5e-7, coarse, throw=False)(*args)
    assert solution.result == eqcml.RESULTS.nudge_below_tolerance
    assert int(solution.nudged[0].steps) == 0


def test_default_solver_scales_with_beta():
    grad = eqcml.contrastive_grad(_offset_problem(), 5e-7)(jnp.zeros(3), jnp.zeros(3), None)
    np.testing.assert_allclose(grad, -jnp.ones(3), rtol=1e-5)


def test_throw_false_marks_nonfinite_gradient_as_nan(quadratic):
    problem, omega, phi = quadratic
    diverging = eqcml.OptaxSolver(optax.sgd(50.0), max_steps=500)
    grad = eqcml.contrastive_grad(problem, 0.1, diverging, throw=False)(omega, phi, None)
    assert np.all(np.isnan(grad))


@pytest.mark.parametrize("beta", [True, 1j, "0.1", None, jnp.array(1, int)])
def test_non_real_beta_rejected(quadratic, beta):
    problem, _, _ = quadratic
    with pytest.raises(TypeError, match="beta"):
        eqcml.contrastive_grad(problem, beta, SOLVER)


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.bfloat16])
def test_gradient_flow_half_precision(dtype):
    loss = lambda p: jnp.sum((p - 1.0) ** 2)
    solution = eqcml.GradientFlowSolver(atol=1e-2).solve(loss, jnp.zeros(3, dtype))
    assert solution.fast.dtype == dtype
    assert solution.result == eqcml.RESULTS.successful
    np.testing.assert_allclose(np.asarray(solution.fast, np.float32), 1.0, atol=1e-2)


def test_gradient_flow_rejects_zero_steps():
    with pytest.raises(ValueError, match="at least 1"):
        eqcml.GradientFlowSolver(max_steps=0)


@pytest.mark.parametrize(
    "kwargs,error",
    [
        (dict(eval_fraction=0.0), ValueError),
        (dict(eval_fraction=1.0), ValueError),
        (dict(test_fraction=-0.1), ValueError),
        (dict(dtype=np.int32), TypeError),
    ],
)
def test_load_boston_rejects_bad_options(kwargs, error):
    with pytest.raises(error):
        eqcml.data.load_boston(**kwargs)


@pytest.mark.parametrize("strength", [0.0, -1.0, float("inf")])
def test_nonpositive_strength_rejected(strength):
    for parameterisation in (eqcml.LearnedL2, eqcml.ComplexSynapse):
        with pytest.raises(ValueError, match="strength"):
            parameterisation.init(jnp.zeros(3), strength)
