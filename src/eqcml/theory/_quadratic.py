"""The quadratic model of the complex synapse, where every quantity has a closed form."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float, PRNGKeyArray, Scalar

from .._problem import Problem


class QuadraticModel(eqx.Module):
    r"""A quadratic approximation of the complex synapse model.

    $L^\text{learn}(\phi, \omega) = \frac12(\phi - \phi^l)^\top H (\phi - \phi^l) +
    \frac{\lambda}{2}\|\phi - \omega\|^2$ and
    $L^\text{eval}(\phi) = \frac12(\phi - \phi^e)^\top H (\phi - \phi^e)$, with a
    symmetric positive definite $H$ shared by both losses, different minimisers
    $\phi^l$ and $\phi^e$, and a fixed strength $\lambda$. The slow parameters are
    the anchors $\omega$. Every matrix $(1 + \beta)H + \lambda I$ is a polynomial in
    $H$, so the closed forms below hold for any such $H$, not only a diagonal one.

    **Fields:**

    - `hessian`: $H$, an `(n, n)` symmetric positive definite matrix.
    - `phi_learn`, `phi_eval`: $\phi^l$ and $\phi^e$, vectors of length `n`.
    - `strength`: $\lambda > 0$.
    """

    hessian: Float[Array, "n n"]
    phi_learn: Float[Array, " n"]
    phi_eval: Float[Array, " n"]
    strength: Scalar

    @classmethod
    def sample(
        cls,
        key: PRNGKeyArray,
        n: int = 50,
        *,
        strength: float = 1.0,
        anchor_scale: float = 2.0,
        task_scale: float = 1.0,
        spread: float = 1.0,
        dtype=float,
    ) -> tuple["QuadraticModel", Float[Array, " n"]]:
        r"""Draw the model of the published verification and an anchor $\omega$.

        $H = \mathrm{diag}(1, 1/2, \ldots, 1/n)$, $\omega \sim
        \mathcal{N}(0, \text{anchor\_scale}^2)$, and $\phi^l, \phi^e$ drawn with
        standard deviation `spread` around a common $\phi^\tau \sim
        \mathcal{N}(0, \text{task\_scale}^2)$.

        **Returns:**

        The model and the anchor `omega`.
        """
        k_anchor, k_task, k_learn, k_eval = jax.random.split(key, 4)
        hessian = jnp.diag(1.0 / jnp.arange(1, n + 1, dtype=dtype))
        task = task_scale * jax.random.normal(k_task, (n,), dtype)
        phi_learn = task + spread * jax.random.normal(k_learn, (n,), dtype)
        phi_eval = task + spread * jax.random.normal(k_eval, (n,), dtype)
        omega = anchor_scale * jax.random.normal(k_anchor, (n,), dtype)
        return cls(hessian, phi_learn, phi_eval, jnp.asarray(strength, dtype)), omega

    def __check_init__(self):
        # Checked only for concrete values: under jit or vmap the fields are traced.
        try:
            strength = float(self.strength)
            hessian = np.asarray(self.hessian)
        except (TypeError, jax.errors.ConcretizationTypeError):
            return
        if not strength > 0:
            raise ValueError(f"`strength` must be positive, got {strength}.")
        if hessian.ndim != 2 or hessian.shape[0] != hessian.shape[1]:
            raise ValueError(f"`hessian` must be a square matrix, got shape {hessian.shape}.")
        if not np.allclose(hessian, hessian.T, rtol=1e-10, atol=1e-12):
            raise ValueError("`hessian` must be symmetric; pass (H + H.T) / 2.")
        if np.linalg.eigvalsh(hessian)[0] <= 0:
            raise ValueError("`hessian` must be positive definite.")

    def learn_loss(self, phi, omega, data=None) -> Scalar:
        r"""$L^\text{learn}$; `data` is unused and accepted for the `Problem` signature."""
        del data
        d = phi - self.phi_learn
        return 0.5 * d @ self.hessian @ d + 0.5 * self.strength * jnp.sum((phi - omega) ** 2)

    def eval_loss(self, phi, omega, data=None) -> Scalar:
        r"""$L^\text{eval}$; independent of `omega`."""
        del omega, data
        d = phi - self.phi_eval
        return 0.5 * d @ self.hessian @ d

    def problem(self) -> Problem:
        """This model as an [`eqcml.Problem`][] with fast `phi` and slow `omega`."""
        return Problem(self.learn_loss, self.eval_loss)

    def _system(self, beta) -> Float[Array, "n n"]:
        n = self.hessian.shape[0]
        return (1 + beta) * self.hessian + self.strength * jnp.eye(n, dtype=self.hessian.dtype)

    def solution(self, omega, beta=0.0) -> Float[Array, " n"]:
        r"""Return the exact minimiser of $L^\text{learn} + \beta L^\text{eval}$:
        $((1+\beta)H + \lambda I)^{-1}(H\phi^l + \beta H\phi^e + \lambda\omega)$."""
        rhs = self.hessian @ (self.phi_learn + beta * self.phi_eval) + self.strength * omega
        return jnp.linalg.solve(self._system(beta), rhs)

    def meta_grad(self, omega) -> Float[Array, " n"]:
        r"""Return the exact meta-gradient $\nabla_\omega = -\lambda\,
        d\phi^*_\beta/d\beta|_{\beta=0} = -\lambda (H + \lambda I)^{-1} H
        (\phi^e - \phi^*_0)$."""
        phi0 = self.solution(omega, 0.0)
        direction = jnp.linalg.solve(self._system(0.0), self.hessian @ (self.phi_eval - phi0))
        return -self.strength * direction

    def contrastive_estimate(self, omega, beta, *, symmetric=False) -> Float[Array, " n"]:
        r"""Return the contrastive estimate at the exact solutions: $-\lambda(\phi^*_\beta -
        \phi^*_0)/\beta$, or $-\lambda(\phi^*_\beta - \phi^*_{-\beta})/(2\beta)$ when
        `symmetric`."""
        upper = self.solution(omega, beta)
        if symmetric:
            return -self.strength * (upper - self.solution(omega, -beta)) / (2 * beta)
        return -self.strength * (upper - self.solution(omega, 0.0)) / beta

    def finite_difference_error(self, omega, beta) -> Scalar:
        r"""$\|\nabla_\omega - \hat\nabla^*_\omega\|$ for the forward estimate."""
        return jnp.linalg.norm(self.meta_grad(omega) - self.contrastive_estimate(omega, beta))

    def finite_difference_bounds(self, omega, beta) -> tuple[Scalar, Scalar]:
        r"""Lower and upper bounds on the forward finite-difference error:
        $\frac{\mu\beta}{(1+\beta)\mu+\lambda}\|\nabla_\omega\|$ and
        $\frac{L\beta}{(1+\beta)L+\lambda}\|\nabla_\omega\|$, with $\mu$ and $L$ the
        extreme eigenvalues of $H$ and $\beta > 0$."""
        eigenvalues = jnp.linalg.eigvalsh(self.hessian)
        mu, big_l = eigenvalues[0], eigenvalues[-1]
        norm = jnp.linalg.norm(self.meta_grad(omega))
        lower = mu * beta / ((1 + beta) * mu + self.strength) * norm
        upper = big_l * beta / ((1 + beta) * big_l + self.strength) * norm
        return lower, upper

    def theorem1_constants(self, omega) -> dict[str, Scalar]:
        r"""Constants for which Theorem 1's bound holds on this model.

        $\partial_\omega L^\text{learn} = \lambda(\omega - \phi)$ is
        $\lambda$-Lipschitz in $\phi$, so $B^\text{learn} = \lambda$;
        $L^\text{eval}$ does not depend on $\omega$, so $B^\text{eval} = 0$; and the
        upper bound on the finite-difference error is at most
        $\frac{\beta}{1+\beta}\|\nabla_\omega\|$, so $C = \|\nabla_\omega\|$.
        """
        return {
            "b_learn": self.strength,
            "b_eval": jnp.zeros_like(self.strength),
            "c": jnp.linalg.norm(self.meta_grad(omega)),
        }
