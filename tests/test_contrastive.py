"""`contrastive_grad` and its siblings: structure, transforms, dtypes and auxiliary
output, on the quadratic model and on an Equinox MLP."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import eqcml

from .helpers import NewtonSolver, quadratic_model, relative_error


def test_solution_fields():
    model, omega = quadratic_model(0, 4)
    solver = eqcml.OptaxSolver(optax.sgd(0.3), max_steps=2000, atol=1e-10)
    solve = eqcml.contrastive_solve(model.problem(), 0.01, solver, symmetric=True)
    solution = solve(omega, jnp.zeros(4), None)
    assert len(solution.nudged) == 2
    assert solution.result == eqcml.RESULTS.successful
    for phase in (solution.free, *solution.nudged):
        assert phase.result == eqcml.RESULTS.successful
        assert 0 < int(phase.steps) < 2000
        assert float(phase.grad_norm) <= 1e-10
    np.testing.assert_allclose(solution.free.fast, model.solution(omega, 0.0), atol=1e-9)
    np.testing.assert_allclose(solution.nudged[0].fast, model.solution(omega, 0.01), atol=1e-9)
    np.testing.assert_allclose(solution.nudged[1].fast, model.solution(omega, -0.01), atol=1e-9)
    expected_value = model.eval_loss(model.solution(omega, 0.0), omega)
    np.testing.assert_allclose(solution.value, expected_value, rtol=1e-9)


def test_value_and_grad_agrees_with_solve():
    model, omega = quadratic_model(1, 3)
    args = (model.problem(), 0.1, NewtonSolver())
    value, grad = eqcml.contrastive_value_and_grad(*args)(omega, jnp.zeros(3), None)
    solution = eqcml.contrastive_solve(*args)(omega, jnp.zeros(3), None)
    np.testing.assert_allclose(value, solution.value)
    np.testing.assert_allclose(grad, solution.grad)
    np.testing.assert_allclose(grad, eqcml.contrastive_grad(*args)(omega, jnp.zeros(3), None))


def test_warm_start_off_restarts_from_init():
    model, omega = quadratic_model(2, 3)
    solver = eqcml.OptaxSolver(optax.sgd(0.3), max_steps=3)
    start = jnp.full(3, 5.0)
    warm = eqcml.contrastive_solve(model.problem(), 0.1, solver)(omega, start, None)
    cold = eqcml.contrastive_solve(model.problem(), 0.1, solver, warm_start=False)(
        omega, start, None
    )
    loss = lambda phi: model.learn_loss(phi, omega) + 0.1 * model.eval_loss(phi, omega)
    expected_cold = start
    for _ in range(3):
        expected_cold = expected_cold - 0.3 * jax.grad(loss)(expected_cold)
    np.testing.assert_allclose(cold.nudged[0].fast, expected_cold, rtol=1e-12)
    assert not np.allclose(warm.nudged[0].fast, cold.nudged[0].fast)


def test_nudged_solver_is_used_for_nudged_phases():
    model, omega = quadratic_model(3, 3)
    free_solver = eqcml.OptaxSolver(optax.sgd(0.3), max_steps=7)
    nudged_solver = eqcml.OptaxSolver(optax.sgd(0.3), max_steps=2)
    solve = eqcml.contrastive_solve(
        model.problem(), 0.1, free_solver, nudged_solver=nudged_solver, symmetric=True
    )
    solution = solve(omega, jnp.zeros(3), None)
    assert int(solution.free.steps) == 7
    assert [int(n.steps) for n in solution.nudged] == [2, 2]


def test_jit_matches_eager():
    model, omega = quadratic_model(4, 5)
    grad = eqcml.contrastive_grad(model.problem(), 0.05, eqcml.OptaxSolver(optax.sgd(0.3), 50))
    np.testing.assert_allclose(
        jax.jit(grad)(omega, jnp.zeros(5), None), grad(omega, jnp.zeros(5), None), rtol=1e-12
    )


def _regression_tasks(n_tasks, dtype):
    """Linear regression tasks with a learned per-weight L2 strength."""
    key_x, key_w, key_noise = jax.random.split(jax.random.key(0), 3)
    x = jax.random.normal(key_x, (n_tasks, 2, 12, 3), dtype)
    w = jax.random.normal(key_w, (n_tasks, 1, 3, 1), dtype)
    y = x @ w + 0.1 * jax.random.normal(key_noise, (n_tasks, 2, 12, 1), dtype)
    return {"learn": (x[:, 0], y[:, 0]), "eval": (x[:, 1], y[:, 1])}


def _linear_problem():
    def mse(w, split):
        x, y = split
        return jnp.mean((x @ w - y) ** 2)

    def learn_loss(fast, slow, data):
        return mse(fast, data["learn"]) + slow.penalty(fast)

    def eval_loss(fast, slow, data):
        return mse(fast, data["eval"])

    return eqcml.Problem(learn_loss, eval_loss)


@pytest.mark.parametrize("symmetric", [False, True])
def test_vmap_over_tasks_equals_loop(symmetric):
    data = _regression_tasks(4, jnp.float64)
    fast = jnp.zeros((3, 1))
    slow = eqcml.LearnedL2.init(fast, 0.1)
    solver = eqcml.OptaxSolver(optax.sgd(0.2), max_steps=500, atol=1e-9)
    grad = eqcml.contrastive_grad(_linear_problem(), 0.01, solver, symmetric=symmetric)
    batched = jax.jit(jax.vmap(grad, in_axes=(None, None, 0)))(slow, fast, data)
    for i in range(4):
        task = jax.tree_util.tree_map(lambda x: x[i], data)
        single = grad(slow, fast, task)
        np.testing.assert_allclose(
            batched.log_strength[i], single.log_strength, rtol=1e-10, atol=1e-14
        )


def test_float32_stays_float32():
    data = _regression_tasks(1, jnp.float32)
    data = jax.tree_util.tree_map(lambda x: x[0], data)
    fast = jnp.zeros((3, 1), jnp.float32)
    slow = eqcml.LearnedL2.init(fast, 0.1)
    for solver in (eqcml.OptaxSolver(optax.sgd(0.2), max_steps=200), eqcml.GradientFlowSolver(atol=1e-4)):
        solve = eqcml.contrastive_solve(_linear_problem(), 0.01, solver, symmetric=True)
        solution = jax.jit(solve)(slow, fast, data)
        assert solution.grad.log_strength.dtype == jnp.float32
        assert solution.value.dtype == jnp.float32
        assert solution.free.fast.dtype == jnp.float32
        assert np.all(np.isfinite(solution.grad.log_strength))


def test_float32_close_to_float64():
    data64 = jax.tree_util.tree_map(lambda x: x[0], _regression_tasks(1, jnp.float64))
    data32 = jax.tree_util.tree_map(lambda x: x.astype(jnp.float32), data64)
    solver = eqcml.OptaxSolver(optax.sgd(0.2), max_steps=300)
    grads = []
    for data, dtype in ((data64, jnp.float64), (data32, jnp.float32)):
        fast = jnp.zeros((3, 1), dtype)
        slow = eqcml.LearnedL2.init(fast, 0.1)
        grads.append(eqcml.contrastive_grad(_linear_problem(), 0.05, solver)(slow, fast, data))
    np.testing.assert_allclose(
        grads[1].log_strength, grads[0].log_strength, rtol=1e-3, atol=1e-5
    )


def test_has_aux_returns_eval_aux_at_free_solution():
    model, omega = quadratic_model(5, 3)

    def learn_loss(phi, omega, data):
        return model.learn_loss(phi, omega), {"which": jnp.array(0.0)}

    def eval_loss(phi, omega, data):
        return model.eval_loss(phi, omega), {"phi": phi}

    problem = eqcml.Problem(learn_loss, eval_loss)
    grad, aux = eqcml.contrastive_grad(problem, 0.01, NewtonSolver(), has_aux=True)(
        omega, jnp.zeros(3), None
    )
    np.testing.assert_allclose(aux["phi"], model.solution(omega, 0.0), atol=1e-12)
    (value, aux), grad2 = eqcml.contrastive_value_and_grad(
        problem, 0.01, NewtonSolver(), has_aux=True
    )(omega, jnp.zeros(3), None)
    np.testing.assert_allclose(grad, grad2)
    np.testing.assert_allclose(value, model.eval_loss(model.solution(omega, 0.0), omega))


def test_equinox_model_non_array_leaves_pass_through():
    splits = eqcml.data.load_boston(seed=0)
    data = {"learn": splits.learn, "eval": splits.eval}
    problem, slow, fast = eqcml.models.mlp_l2_regression(jax.random.key(0), 13, width=8,
                                                        strength=0.1)
    solver = eqcml.OptaxSolver(optax.lbfgs(), max_steps=500, atol=1e-9)
    grad = eqx.filter_jit(eqcml.contrastive_grad(problem, 1e-3, solver))(slow, fast, data)
    exact = eqx.filter_jit(eqcml.exact_grad(problem, solver))(slow, fast, data)
    assert jax.tree_util.tree_structure(grad) == jax.tree_util.tree_structure(slow)
    flat = lambda tree: jnp.concatenate([x.ravel() for x in jax.tree_util.tree_leaves(tree)])
    assert relative_error(flat(grad), flat(exact)) < 0.02


def test_non_float_slow_leaves_are_none():
    model, omega = quadratic_model(6, 3)

    def learn_loss(phi, slow, data):
        return model.learn_loss(phi, slow["omega"]) * slow["scale"]

    def eval_loss(phi, slow, data):
        return model.eval_loss(phi, slow["omega"])

    slow = {"omega": omega, "scale": 1, "steps": jnp.array(3)}
    grad = eqcml.contrastive_grad(eqcml.Problem(learn_loss, eval_loss), 0.01, NewtonSolver())(
        slow, jnp.zeros(3), None
    )
    assert grad["scale"] is None
    assert grad["steps"] is None
    assert relative_error(grad["omega"], model.meta_grad(omega)) < 0.05


def test_complex_synapse_rule_closed_form():
    """The contrastive update of the complex synapse: d/d omega = -lambda (phi_beta -
    phi_0) / beta, and d/d log lambda = lambda ((omega - phi_beta)^2 - (omega -
    phi_0)^2) / (2 beta)."""
    data = jax.tree_util.tree_map(lambda x: x[0], _regression_tasks(1, jnp.float64))
    fast = jnp.zeros((3, 1))
    slow = eqcml.ComplexSynapse(jnp.full((3, 1), 0.3), jnp.log(jnp.array([[0.1], [0.2], [0.5]])))

    def learn_loss(w, slow, data):
        x, y = data["learn"]
        return jnp.mean((x @ w - y) ** 2) + slow.penalty(w)

    def eval_loss(w, slow, data):
        x, y = data["eval"]
        return jnp.mean((x @ w - y) ** 2)

    beta = 0.05
    solver = eqcml.OptaxSolver(optax.sgd(0.1), max_steps=40)
    solution = eqcml.contrastive_solve(eqcml.Problem(learn_loss, eval_loss), beta, solver)(
        slow, fast, data
    )
    phi0, phib = solution.free.fast, solution.nudged[0].fast
    lam, omega = slow.strength, slow.anchor
    np.testing.assert_allclose(solution.grad.anchor, -lam * (phib - phi0) / beta, rtol=1e-10)
    expected = lam * ((omega - phib) ** 2 - (omega - phi0) ** 2) / (2 * beta)
    np.testing.assert_allclose(solution.grad.log_strength, expected, rtol=1e-10)


def test_penalties():
    fast = {"w": jnp.array([1.0, -2.0]), "b": jnp.array(3.0), "act": jnp.tanh}
    l2 = eqcml.LearnedL2.init(fast, 0.5)
    np.testing.assert_allclose(l2.penalty(fast), 0.25 * (1 + 4 + 9))
    synapse = eqcml.ComplexSynapse.init(fast, 2.0)
    np.testing.assert_allclose(synapse.penalty(fast), 0.0)
    shifted = jax.tree_util.tree_map(lambda x: x + 1 if eqx.is_array(x) else x, fast)
    np.testing.assert_allclose(synapse.penalty(shifted), 0.5 * 2.0 * 3)
    assert jax.tree_util.tree_leaves(synapse.strength)[0].dtype == jnp.float64
