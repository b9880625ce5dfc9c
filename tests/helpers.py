"""Problems and solvers shared by the tests."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

import eqcml
from eqcml.internal import tree_norm


class NewtonSolver(eqcml.AbstractInnerSolver):
    """Dense Newton iterations: exact in one step on a quadratic.

    Defined here to show that a user-written solver plugs into every estimator.
    """

    max_steps: int = eqx.field(default=3, static=True)
    atol: float = eqx.field(default=0.0, static=True)
    rtol: float = eqx.field(default=0.0, static=True)

    def solve(self, loss_fn, fast):
        def step(fast, _):
            hessian = jax.hessian(loss_fn)(fast)
            return fast - jnp.linalg.solve(hessian, jax.grad(loss_fn)(fast)), None

        fast, _ = jax.lax.scan(step, fast, None, length=self.max_steps)
        loss, grad = jax.value_and_grad(loss_fn)(fast)
        return eqcml.InnerSolution(
            fast, jnp.array(self.max_steps), tree_norm(grad), loss, eqcml.RESULTS.successful
        )


def random_spd(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """A random symmetric matrix with eigenvalues drawn uniformly in [low, high]."""
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eigenvalues = rng.uniform(low, high, size=n)
    eigenvalues[0], eigenvalues[-1] = low, high
    return (q * eigenvalues) @ q.T


def quadratic_model(seed: int, n: int, strength: float = 1.0):
    """A `QuadraticModel` with a dense SPD Hessian, and an anchor `omega`."""
    rng = np.random.default_rng(seed)
    hessian = jnp.asarray(random_spd(rng, n, 0.5, 2.0))
    model = eqcml.theory.QuadraticModel(
        hessian,
        jnp.asarray(rng.normal(size=n)),
        jnp.asarray(rng.normal(size=n)),
        jnp.asarray(strength),
    )
    return model, jnp.asarray(2.0 * rng.normal(size=n))


quadratic_cases = st.tuples(
    st.integers(min_value=0, max_value=2**31 - 1), st.integers(min_value=2, max_value=6)
)


def relative_error(estimate, reference) -> float:
    return float(jnp.linalg.norm(estimate - reference) / jnp.linalg.norm(reference))


def loglog_slope(x, y) -> float:
    slope, _ = np.polyfit(np.log(np.asarray(x)), np.log(np.asarray(y)), 1)
    return float(slope)
