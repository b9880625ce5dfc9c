"""The baseline meta-gradient estimators on quadratic problems with known Hessians:
agreement with closed forms and hand-written loops, convergence rates, transforms,
dtypes, statuses and misuse errors."""

import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, strategies as st

import eqcml

from .helpers import random_spd, relative_error


class Quadratic(eqx.Module):
    r"""$L^\text{learn} = \frac12\phi^\top A\phi - \phi^\top B\theta$ and
    $L^\text{eval} = \frac12\|\phi - t\|^2 + \frac{\epsilon}{2}\|\theta\|^2$, with
    the target $t$ as data. The Hessian is $A$ and the cross derivative
    $\partial_\theta\partial_\phi L^\text{learn} = -B$."""

    a: jax.Array
    b: jax.Array
    eps: float = 0.1

    def learn(self, phi, slow, data):
        del data
        return 0.5 * phi @ self.a @ phi - phi @ (self.b @ slow["theta"])

    def eval(self, phi, slow, data):
        return 0.5 * jnp.sum(jnp.square(phi - data)) + 0.5 * self.eps * jnp.sum(
            jnp.square(slow["theta"])
        )

    def problem(self) -> eqcml.Problem:
        return eqcml.Problem(self.learn, self.eval)

    def exact_grad(self, theta, target):
        phi = jnp.linalg.solve(self.a, self.b @ theta)
        return self.b.T @ jnp.linalg.solve(self.a, phi - target) + self.eps * theta


def make_quadratic(seed, n, m=None, low=0.5, high=3.0, dtype=jnp.float64):
    """A random quadratic, slow parameters `{"theta": ...}` and a target."""
    rng = np.random.default_rng(seed)
    m = n if m is None else m
    a = random_spd(rng, n, low, high)
    quadratic = Quadratic(jnp.asarray(a, dtype), jnp.asarray(rng.normal(size=(n, m)), dtype))
    slow = {"theta": jnp.asarray(rng.normal(size=m), dtype)}
    return quadratic, slow, jnp.asarray(rng.normal(size=n), dtype)


def first_phase(max_steps=500, atol=1e-10):
    return eqcml.OptaxSolver(optax.sgd(0.3), max_steps=max_steps, atol=atol)


# Shared by the hypothesis tests, so that their examples reuse compiled code.
SOLVER = first_phase()


@eqx.filter_jit
def jit_solve(problem, estimator, slow, fast, data):
    return eqcml.meta_solve(problem, estimator)(slow, fast, data)


def run_steps(quadratic, optimizer, slow, target, phi, state, steps):
    for _ in range(steps):
        grad = jax.grad(quadratic.learn)(phi, slow, target)
        updates, state = optimizer.update(grad, state, phi)
        phi = optax.apply_updates(phi, updates)
    return phi, state


def hand_unrolled(quadratic, optimizer, steps, truncation=None):
    """Backpropagation through `steps` optimiser updates written as a Python loop,
    starting from `slow["init"]`, with the gradient stopped before the last
    `truncation` steps."""
    truncation = steps if truncation is None else truncation

    def meta_loss(slow, target):
        phi = slow["init"]
        phi, state = run_steps(
            quadratic, optimizer, slow, target, phi, optimizer.init(phi), steps - truncation
        )
        if truncation < steps:
            phi, state = jax.lax.stop_gradient((phi, state))
        phi, _ = run_steps(quadratic, optimizer, slow, target, phi, state, truncation)
        return quadratic.eval(phi, slow, target)

    return jax.jit(jax.grad(meta_loss))


def adapted(quadratic, optimizer, steps, slow, start, target):
    state = optimizer.init(start)
    return run_steps(quadratic, optimizer, slow, target, start, state, steps)[0]


def from_init(slow, fast_init):
    del fast_init
    return slow["init"]


# Every estimator, configured for the quadratics above. The unrolled estimators start
# from `fast_init`, so every slow leaf (`theta`) enters the learning loss.
def all_estimators():
    solver = SOLVER
    return {
        "Contrastive": eqcml.Contrastive(1e-3, solver, symmetric=True),
        "Exact": eqcml.Exact(solver),
        "ConjugateGradient": eqcml.ConjugateGradient(solver, max_steps=20, rtol=1e-10),
        "Neumann": eqcml.Neumann(0.3, 100, solver),
        "T1T2": eqcml.T1T2(solver),
        "Unrolled": eqcml.Unrolled(optax.sgd(0.1, momentum=0.5), 20),
        "TruncatedUnrolled": eqcml.TruncatedUnrolled(optax.sgd(0.1), 20, 5),
        "FirstOrderUnrolled": eqcml.FirstOrderUnrolled(optax.sgd(0.1), 20),
    }


ESTIMATOR_NAMES = [*all_estimators(), "Reptile"]
EQUILIBRIUM_NAMES = ["Contrastive", "Exact", "ConjugateGradient", "Neumann", "T1T2"]


def estimator_case(name, quadratic, slow, target, n):
    """An estimator with arguments that suit it: Reptile meta-learns the
    initialisation, so its slow parameters are the initial fast parameters."""
    if name == "Reptile":
        problem = eqcml.Problem(
            lambda phi, init, data: quadratic.learn(phi, slow, data),
            lambda phi, init, data: quadratic.eval(phi, slow, data),
        )
        return eqcml.Reptile(optax.sgd(0.1), 20), problem, jnp.zeros(n, target.dtype)
    return all_estimators()[name], quadratic.problem(), slow


# Implicit estimators.


@given(st.integers(0, 2**31 - 1), st.integers(1, 6))
def test_conjugate_gradient_exact_within_n_steps(seed, n):
    quadratic, slow, target = make_quadratic(seed, n)
    fast = jnp.zeros(n)
    estimator = eqcml.ConjugateGradient(SOLVER, max_steps=n, rtol=1e-10)
    solution = jit_solve(quadratic.problem(), estimator, slow, fast, target)
    exact = jit_solve(quadratic.problem(), eqcml.Exact(SOLVER), slow, fast, target)
    assert relative_error(solution.grad["theta"], exact.grad["theta"]) < 1e-8
    assert int(solution.stats["linear_steps"]) <= n
    assert solution.result == eqcml.RESULTS.successful
    assert not bool(solution.stats["negative_curvature"])


def test_exact_matches_closed_form():
    quadratic, slow, target = make_quadratic(0, 5)
    grad = eqcml.meta_grad(quadratic.problem(), eqcml.Exact(SOLVER))(
        slow, jnp.zeros(5), target
    )
    expected = quadratic.exact_grad(slow["theta"], target)
    assert relative_error(grad["theta"], expected) < 1e-8


def test_conjugate_gradient_budget_reports_failed_solve():
    quadratic, slow, target = make_quadratic(1, 8, low=0.01, high=2.0)
    estimator = eqcml.ConjugateGradient(SOLVER, max_steps=2, rtol=1e-10)
    solution = eqcml.meta_solve(quadratic.problem(), estimator)(slow, jnp.zeros(8), target)
    assert solution.result == eqcml.RESULTS.linear_solve_failed
    assert int(solution.stats["linear_steps"]) == 2
    assert float(solution.stats["linear_residual_norm"]) > 1e-10
    assert bool(jnp.all(jnp.isfinite(solution.grad["theta"])))


def test_conjugate_gradient_damping():
    quadratic, slow, target = make_quadratic(2, 4)
    damping = 0.7
    solver = SOLVER
    estimator = eqcml.ConjugateGradient(solver, max_steps=4, rtol=1e-12, damping=damping)
    solution = eqcml.meta_solve(quadratic.problem(), estimator)(slow, jnp.zeros(4), target)
    phi = solution.free.fast
    adjoint = jnp.linalg.solve(quadratic.a + damping * jnp.eye(4), phi - target)
    expected = quadratic.b.T @ adjoint + quadratic.eps * slow["theta"]
    assert relative_error(solution.grad["theta"], expected) < 1e-10


def test_conjugate_gradient_flags_negative_curvature():
    rng = np.random.default_rng(3)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    indefinite = (q * np.array([-1.0, 1.0, 2.0, 3.0])) @ q.T
    quadratic = Quadratic(jnp.asarray(indefinite), jnp.asarray(rng.normal(size=(4, 4))))
    slow = {"theta": jnp.asarray(rng.normal(size=4))}
    no_first_phase = eqcml.OptaxSolver(optax.sgd(0.1), max_steps=0)
    estimator = eqcml.ConjugateGradient(no_first_phase, max_steps=4, rtol=1e-10)
    solution = eqcml.meta_solve(quadratic.problem(), estimator, throw=False)(
        slow, jnp.ones(4), jnp.zeros(4)
    )
    assert bool(solution.stats["negative_curvature"])


@pytest.mark.parametrize("alpha", [0.2, 0.45])
def test_neumann_error_shrinks_at_spectral_radius(alpha):
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    eigenvalues = np.array([1.0, 2.0, 3.0, 4.0])
    quadratic = Quadratic(
        jnp.asarray((q * eigenvalues) @ q.T), jnp.asarray(rng.normal(size=(4, 4)))
    )
    slow = {"theta": jnp.asarray(rng.normal(size=4))}
    target = jnp.asarray(rng.normal(size=4))
    solver = first_phase(atol=1e-13, max_steps=2000)
    fast = jnp.zeros(4)
    exact = eqcml.meta_grad(quadratic.problem(), eqcml.Exact(solver))(slow, fast, target)
    steps = [10, 15, 20, 25, 30, 35, 40]
    errors = []
    for k in steps:
        estimator = eqcml.Neumann(alpha, k, solver)
        grad = eqcml.meta_grad(quadratic.problem(), estimator)(slow, fast, target)
        errors.append(relative_error(grad["theta"], exact["theta"]))
    rate = np.exp(np.polyfit(steps, np.log(errors), 1)[0])
    spectral_radius = np.max(np.abs(1 - alpha * eigenvalues))
    assert rate == pytest.approx(spectral_radius, rel=0.02)
    assert errors[-1] < 1e-3


def test_neumann_diverging_is_nonfinite():
    quadratic, slow, target = make_quadratic(5, 4, low=1.0, high=4.0)
    estimator = eqcml.Neumann(1.0, 2000, SOLVER)
    solve = eqcml.meta_solve(quadratic.problem(), estimator, throw=False)
    solution = solve(slow, jnp.zeros(4), target)
    assert solution.result == eqcml.RESULTS.nonfinite
    with pytest.raises(Exception, match="non-finite"):
        eqcml.meta_grad(quadratic.problem(), estimator)(slow, jnp.zeros(4), target)


@given(st.integers(0, 2**31 - 1), st.integers(1, 5), st.sampled_from([1.0, 0.3]))
def test_t1t2_closed_form(seed, n, alpha):
    quadratic, slow, target = make_quadratic(seed, n, m=3)
    estimator = eqcml.T1T2(SOLVER, alpha)
    solution = jit_solve(quadratic.problem(), estimator, slow, jnp.zeros(n), target)
    phi = solution.free.fast
    expected = alpha * quadratic.b.T @ (phi - target) + quadratic.eps * slow["theta"]
    np.testing.assert_allclose(solution.grad["theta"], expected, rtol=1e-12)


def test_t1t2_is_one_neumann_step():
    quadratic, slow, target = make_quadratic(6, 4)
    solver = SOLVER
    args = (slow, jnp.zeros(4), target)
    t1t2 = eqcml.meta_grad(quadratic.problem(), eqcml.T1T2(solver, 0.3))(*args)
    neumann = eqcml.meta_grad(quadratic.problem(), eqcml.Neumann(0.3, 1, solver))(*args)
    np.testing.assert_allclose(t1t2["theta"], neumann["theta"], rtol=1e-12)


def test_first_phase_status_is_reported():
    quadratic, slow, target = make_quadratic(7, 4)
    short = first_phase(max_steps=3)
    for estimator in (
        eqcml.ConjugateGradient(short, rtol=1e-10),
        eqcml.Neumann(0.3, 10, short),
        eqcml.T1T2(short),
    ):
        solution = eqcml.meta_solve(quadratic.problem(), estimator)(
            slow, jnp.zeros(4), target
        )
        assert solution.result == eqcml.RESULTS.max_steps_reached
        assert solution.free.result == eqcml.RESULTS.max_steps_reached
        assert int(solution.free.steps) == 3


# Estimators that differentiate through learning.


def unrolled_case(seed=8, n=4):
    quadratic, slow, target = make_quadratic(seed, n, m=3)
    slow = {**slow, "init": jnp.asarray(np.random.default_rng(seed).normal(size=n))}
    return quadratic, slow, target, jnp.zeros(n)


@pytest.mark.parametrize("steps", [1, 6])
def test_unrolled_equals_hand_written_loop(steps):
    quadratic, slow, target, fast = unrolled_case()
    optimizer = optax.sgd(0.1, momentum=0.9)
    estimator = eqcml.Unrolled(optimizer, steps, init=from_init)
    grad = eqcml.meta_grad(quadratic.problem(), estimator)(slow, fast, target)
    expected = hand_unrolled(quadratic, optimizer, steps)(slow, target)
    for key in ("theta", "init"):
        np.testing.assert_allclose(grad[key], expected[key], rtol=1e-10, atol=1e-12)


def test_truncated_unrolled_full_equals_unrolled():
    quadratic, slow, target, fast = unrolled_case()
    optimizer = optax.adam(0.05)
    full = eqcml.Unrolled(optimizer, 12, init=from_init)
    truncated = eqcml.TruncatedUnrolled(optimizer, 12, 12, init=from_init)
    expected = eqcml.meta_grad(quadratic.problem(), full)(slow, fast, target)
    grad = eqcml.meta_grad(quadratic.problem(), truncated)(slow, fast, target)
    for key in ("theta", "init"):
        np.testing.assert_allclose(grad[key], expected[key], rtol=1e-12)


@pytest.mark.parametrize("truncation", [0, 3])
def test_truncated_unrolled_stops_gradient(truncation):
    quadratic, slow, target, fast = unrolled_case()
    optimizer = optax.sgd(0.1, momentum=0.9)
    estimator = eqcml.TruncatedUnrolled(optimizer, 10, truncation, init=from_init)
    grad = eqcml.meta_grad(quadratic.problem(), estimator)(slow, fast, target)
    expected = hand_unrolled(quadratic, optimizer, 10, truncation)(slow, target)
    np.testing.assert_allclose(grad["theta"], expected["theta"], rtol=1e-10)
    np.testing.assert_array_equal(grad["init"], jnp.zeros_like(slow["init"]))


def test_first_order_unrolled_is_eval_gradient_at_adapted():
    quadratic, slow, target, fast = unrolled_case()
    optimizer = optax.sgd(0.1)
    estimator = eqcml.FirstOrderUnrolled(optimizer, 15, init=from_init)
    solution = eqcml.meta_solve(quadratic.problem(), estimator)(slow, fast, target)
    phi = adapted(quadratic, optimizer, 15, slow, slow["init"], target)
    np.testing.assert_allclose(solution.free.fast, phi, rtol=1e-12)
    np.testing.assert_allclose(solution.grad["init"], phi - target, rtol=1e-12)
    np.testing.assert_allclose(
        solution.grad["theta"], quadratic.eps * slow["theta"], rtol=1e-12
    )


def test_unrolled_solution_fields():
    quadratic, slow, target, fast = unrolled_case()
    estimator = eqcml.Unrolled(optax.sgd(0.1), 7, init=from_init)
    solution = eqcml.meta_solve(quadratic.problem(), estimator)(slow, fast, target)
    phi = adapted(quadratic, optax.sgd(0.1), 7, slow, slow["init"], target)
    np.testing.assert_allclose(solution.free.fast, phi, rtol=1e-12)
    assert int(solution.free.steps) == 7
    assert solution.result == eqcml.RESULTS.successful
    np.testing.assert_allclose(solution.value, quadratic.eval(phi, slow, target))
    learn_grad = jax.grad(quadratic.learn)(phi, slow, target)
    np.testing.assert_allclose(solution.free.grad_norm, jnp.linalg.norm(learn_grad))


def test_reptile_equals_init_minus_adapted():
    quadratic, slow, target, _ = unrolled_case()
    optimizer = optax.sgd(0.1, momentum=0.5)
    problem = eqcml.Problem(
        lambda phi, init, data: quadratic.learn(phi, slow, data),
        lambda phi, init, data: quadratic.eval(phi, slow, data),
    )
    init = slow["init"]
    solution = eqcml.meta_solve(problem, eqcml.Reptile(optimizer, 9))(
        init, jnp.zeros(4), target
    )
    phi = adapted(quadratic, optimizer, 9, slow, init, target)
    np.testing.assert_allclose(solution.grad, init - phi, rtol=1e-12)
    np.testing.assert_allclose(solution.free.fast, phi, rtol=1e-12)


def test_reptile_with_init_callable():
    quadratic, slow, target, fast = unrolled_case()
    estimator = eqcml.Reptile(optax.sgd(0.1), 9, init=from_init)
    grad = eqcml.meta_grad(quadratic.problem(), estimator)(slow, fast, target)
    phi = adapted(quadratic, optax.sgd(0.1), 9, slow, slow["init"], target)
    np.testing.assert_allclose(grad["init"], slow["init"] - phi, rtol=1e-12)
    np.testing.assert_array_equal(grad["theta"], jnp.zeros(3))


def test_reptile_misuse():
    quadratic, slow, target, fast = unrolled_case()
    with pytest.raises(TypeError, match="Reptile meta-learns the initialisation"):
        eqcml.meta_grad(quadratic.problem(), eqcml.Reptile(optax.sgd(0.1), 3))(
            slow, fast, target
        )
    ignores_slow = eqcml.Reptile(optax.sgd(0.1), 3, init=lambda slow, fast_init: fast_init)
    with pytest.raises(ValueError, match="does not depend on the slow parameters"):
        eqcml.meta_grad(quadratic.problem(), ignores_slow)(slow, fast, target)
    with pytest.raises(TypeError, match="init"):
        eqcml.Reptile(optax.sgd(0.1), 3, init=None)
    wrong_shape = eqcml.Unrolled(optax.sgd(0.1), 3, init=lambda slow, fast_init: slow["theta"])
    with pytest.raises(TypeError, match="structure, shapes and dtypes"):
        eqcml.meta_grad(quadratic.problem(), wrong_shape)(slow, jnp.zeros(4), target)


# Every estimator.


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_scalar_fast_parameter(name):
    quadratic = Quadratic(jnp.array([[2.0]]), jnp.array([[1.5]]))
    problem = eqcml.Problem(
        lambda phi, slow, t: quadratic.learn(phi[None], slow, t[None]),
        lambda phi, slow, t: quadratic.eval(phi[None], slow, t[None]),
    )
    slow, target = {"theta": jnp.array([0.7])}, jnp.array(0.2)
    if name == "Reptile":
        estimator = eqcml.Reptile(optax.sgd(0.1), 5)
        theta = slow
        problem = eqcml.Problem(
            lambda phi, init, t: quadratic.learn(phi[None], theta, t[None]),
            lambda phi, init, t: quadratic.eval(phi[None], theta, t[None]),
        )
        slow = jnp.array(0.3)
    else:
        estimator = all_estimators()[name]
    solution = eqx.filter_jit(eqcml.meta_solve(problem, estimator))(
        slow, jnp.array(0.0), target
    )
    assert jnp.shape(solution.free.fast) == ()
    assert bool(jnp.all(jnp.isfinite(jax.tree_util.tree_leaves(solution.grad)[0])))
    if name in EQUILIBRIUM_NAMES:
        expected = quadratic.exact_grad(slow["theta"], target[None])
        tolerance = 1e-4 if name == "Contrastive" else 1e-8
        if name == "T1T2":
            residual = solution.free.fast[None] - target
            expected = quadratic.b.T @ residual + quadratic.eps * slow["theta"]
        np.testing.assert_allclose(solution.grad["theta"], expected, rtol=tolerance)


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_vmap_over_tasks_equals_loop(name):
    quadratic, slow, _ = make_quadratic(9, 3)
    rng = np.random.default_rng(10)
    targets = jnp.asarray(rng.normal(size=(4, 3)))
    fasts = jnp.asarray(rng.normal(size=(4, 3)))
    estimator, problem, slow = estimator_case(name, quadratic, slow, targets[0], 3)
    solve = eqcml.meta_solve(problem, estimator)
    batched = eqx.filter_jit(jax.vmap(solve, in_axes=(None, 0, 0)))(slow, fasts, targets)
    single = eqx.filter_jit(solve)
    for i in range(4):
        solution = single(slow, fasts[i], targets[i])
        got = [leaf[i] for leaf in jax.tree_util.tree_leaves(batched.grad)]
        for a, b in zip(got, jax.tree_util.tree_leaves(solution.grad), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(batched.value[i], solution.value, rtol=1e-10)
        assert int(batched.result._value[i]) == int(solution.result._value)


@pytest.mark.parametrize("name", ESTIMATOR_NAMES)
def test_float32_stays_float32(name):
    quadratic, slow, target = make_quadratic(11, 3, dtype=jnp.float32)
    estimator, problem, slow = estimator_case(name, quadratic, slow, target, 3)
    solution = eqx.filter_jit(eqcml.meta_solve(problem, estimator))(
        slow, jnp.zeros(3, jnp.float32), target
    )
    for leaf in jax.tree_util.tree_leaves(solution.grad):
        assert leaf.dtype == jnp.float32
    assert solution.value.dtype == jnp.float32
    assert solution.free.fast.dtype == jnp.float32
    for key, value in solution.stats.items():
        if jnp.issubdtype(value.dtype, jnp.floating):
            assert value.dtype == jnp.float32, key


# Warnings and errors.


@pytest.mark.parametrize("name", EQUILIBRIUM_NAMES)
def test_initialisation_only_slow_warns(name):
    quadratic, slow, target, fast = unrolled_case()
    estimator = all_estimators()[name]
    with pytest.warns(UserWarning, match=r"\['init'\].*does not depend on the initialisation"):
        grad = eqcml.meta_grad(quadratic.problem(), estimator)(slow, fast, target)
    np.testing.assert_array_equal(grad["init"], jnp.zeros(4))


@pytest.mark.parametrize("name", [*EQUILIBRIUM_NAMES, "Unrolled"])
def test_no_warning_when_slow_is_used(name):
    quadratic, slow, target = make_quadratic(12, 3)
    estimator = all_estimators()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eqcml.meta_grad(quadratic.problem(), estimator)(slow, jnp.zeros(3), target)


def test_no_warning_for_unrolled_with_init():
    quadratic, slow, target, fast = unrolled_case()
    estimator = eqcml.Unrolled(optax.sgd(0.1), 3, init=from_init)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eqcml.meta_grad(quadratic.problem(), estimator)(slow, fast, target)


def test_warning_looks_inside_jit():
    quadratic, slow, target, fast = unrolled_case()

    @jax.jit
    def learn(phi, slow, data):
        return quadratic.learn(phi, slow, data) + 0.0 * jnp.sum(slow["init"])

    problem = eqcml.Problem(learn, quadratic.eval)
    with pytest.warns(UserWarning, match=r"\['init'\]"):
        eqcml.meta_grad(problem, eqcml.T1T2(SOLVER))(slow, fast, target)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: eqcml.ConjugateGradient(max_steps=-1), ValueError, "max_steps"),
        (lambda: eqcml.ConjugateGradient(rtol=float("nan")), ValueError, "rtol"),
        (lambda: eqcml.ConjugateGradient(damping=-1.0), ValueError, "damping"),
        (lambda: eqcml.ConjugateGradient(solver=optax.sgd(0.1)), TypeError, "solver"),
        (lambda: eqcml.Neumann(0.0), ValueError, "alpha"),
        (lambda: eqcml.Neumann(0.1, steps=-2), ValueError, "steps"),
        (lambda: eqcml.T1T2(alpha=float("inf")), ValueError, "alpha"),
        (lambda: eqcml.Unrolled(optax.sgd(0.1), -1), ValueError, "steps"),
        (lambda: eqcml.Unrolled(lambda g: g, 3), TypeError, "optimizer"),
        (lambda: eqcml.Unrolled(optax.sgd(0.1), 3, init=1.0), TypeError, "init"),
        (lambda: eqcml.TruncatedUnrolled(optax.sgd(0.1), 3, 4), ValueError, "truncation"),
        (lambda: eqcml.FirstOrderUnrolled(optax.sgd(0.1), -3), ValueError, "steps"),
    ],
)
def test_invalid_fields(make, error, match):
    with pytest.raises(error, match=match):
        make()
