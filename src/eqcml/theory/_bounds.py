"""Theorem 1's bound on the contrastive estimate's error and Corollary 1's optimum."""

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float


def theorem1_bound(
    delta: ArrayLike,
    delta_prime: ArrayLike,
    beta: ArrayLike,
    *,
    b_learn: ArrayLike = 1.0,
    b_eval: ArrayLike = 1.0,
    c: ArrayLike = 1.0,
) -> Float[Array, "..."]:
    r"""Theorem 1's upper bound on the error of the forward contrastive estimate.

    $\mathcal{B}(\delta, \delta', \beta) = \frac{B^\text{learn}(\delta + \delta')}{\beta}
    + B^\text{eval}\delta' + C\frac{\beta}{1 + \beta}$,

    valid for $\beta > 0$ when the free and nudged solutions are within $\delta$ and
    $\delta'$ of the exact ones, both losses are smooth and strongly convex in the
    fast parameters, and $\partial_\theta L^\text{learn}$, $\partial_\theta
    L^\text{eval}$ are $B^\text{learn}$- and $B^\text{eval}$-Lipschitz in them. The
    first two terms are the error caused by inexact solutions, the last one the
    finite-difference error. Broadcasts over its arguments, and returns NaN where
    `beta <= 0` or a distance is negative.

    **Arguments:**

    - `delta`, `delta_prime`: the distances of the free and nudged solutions to the
        exact minimisers.
    - `beta`: the nudging strength, positive.
    - `b_learn`, `b_eval`, `c`: the constants of the theorem.

    **Returns:**

    The bound, with the broadcast shape of the arguments.
    """
    delta, delta_prime, beta = jnp.broadcast_arrays(
        *(jnp.asarray(x, dtype=float) for x in (delta, delta_prime, beta))
    )
    bound = b_learn * (delta + delta_prime) / beta + b_eval * delta_prime + c * beta / (
        1 + beta
    )
    # The theorem holds for beta > 0 and distances >= 0 only; elsewhere the formula
    # can return a plausible-looking negative number, so it returns NaN instead.
    valid = (beta > 0) & (delta >= 0) & (delta_prime >= 0)
    return jnp.where(valid, bound, jnp.nan)


def optimal_beta(
    delta: ArrayLike,
    delta_prime: ArrayLike,
    *,
    b_learn: ArrayLike = 1.0,
    c: ArrayLike = 1.0,
) -> Float[Array, "..."]:
    r"""Corollary 1: the beta that minimises Theorem 1's bound.

    $\beta^* = \frac{\sqrt{B^\text{learn}(\delta + \delta')}}{\sqrt{C} -
    \sqrt{B^\text{learn}(\delta + \delta')}}$, defined when
    $\delta + \delta' < C / B^\text{learn}$. Outside that range the bound decreases
    in beta without a minimiser, and the result is `inf`. Negative or NaN distances
    give NaN.
    """
    root = jnp.sqrt(b_learn * (jnp.asarray(delta, float) + jnp.asarray(delta_prime, float)))
    gap = jnp.sqrt(c) - root
    beta = jnp.where(gap > 0, root / jnp.where(gap > 0, gap, 1.0), jnp.inf)
    return jnp.where(jnp.isnan(root), jnp.nan, beta)


def best_bound(
    delta: ArrayLike,
    delta_prime: ArrayLike,
    *,
    b_learn: ArrayLike = 1.0,
    b_eval: ArrayLike = 1.0,
    c: ArrayLike = 1.0,
) -> Float[Array, "..."]:
    r"""Theorem 1's bound at Corollary 1's optimal beta.

    Equals $B^\text{eval}\delta' + \sqrt{B^\text{learn}(\delta+\delta')}
    (\sqrt{C} - \sqrt{B^\text{learn}(\delta+\delta')}) + \sqrt{C B^\text{learn}
    (\delta+\delta')}$, which never exceeds [`eqcml.theory.best_bound_upper`][].
    Where no optimal beta exists the limit $\beta \to \infty$ is returned.
    """
    beta = optimal_beta(delta, delta_prime, b_learn=b_learn, c=c)
    at_infinity = b_eval * jnp.asarray(delta_prime, float) + c
    finite = jnp.isfinite(beta)
    value = theorem1_bound(
        delta, delta_prime, jnp.where(finite, beta, 1.0), b_learn=b_learn, b_eval=b_eval, c=c
    )
    return jnp.where(jnp.isnan(beta), jnp.nan, jnp.where(finite, value, at_infinity))


def best_bound_upper(
    delta: ArrayLike,
    delta_prime: ArrayLike,
    *,
    b_learn: ArrayLike = 1.0,
    b_eval: ArrayLike = 1.0,
    c: ArrayLike = 1.0,
) -> Float[Array, "..."]:
    r"""Corollary 1's closed-form ceiling on the best achievable bound:
    $B^\text{eval}\delta' + 2\sqrt{C B^\text{learn}(\delta + \delta')}$."""
    total = jnp.asarray(delta, float) + jnp.asarray(delta_prime, float)
    return b_eval * jnp.asarray(delta_prime, float) + 2 * jnp.sqrt(c * b_learn * total)
