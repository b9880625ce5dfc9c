"""Complex synapse meta-parameterisation and its special case, learned L2 strengths."""

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import ArrayLike, PyTree, Scalar

from ..internal import is_floating_array


def _floats(tree: PyTree) -> PyTree:
    return eqx.filter(tree, is_floating_array)


def _check_strength(strength) -> None:
    if not (isinstance(strength, (int, float)) and 0 < strength < float("inf")):
        raise ValueError(
            f"`strength` must be a positive finite number, got {strength!r}; strengths "
            "are stored as logarithms."
        )


def _constant_like(fast: PyTree, value: ArrayLike) -> PyTree:
    return jax.tree_util.tree_map(
        lambda x: jnp.full_like(x, value), _floats(fast)
    )


def _penalty(log_strength: PyTree, anchor: PyTree | None, fast: PyTree) -> Scalar:
    fast = _floats(fast)
    if anchor is None:
        anchor = jax.tree_util.tree_map(jnp.zeros_like, fast)
    terms = jax.tree_util.tree_map(
        lambda s, w, x: 0.5 * jnp.sum(jnp.exp(s) * jnp.square(w - x)),
        log_strength,
        anchor,
        fast,
    )
    leaves = jax.tree_util.tree_leaves(terms)
    return sum(leaves[1:], start=leaves[0])


class ComplexSynapse(eqx.Module):
    r"""Per-parameter anchors $\omega$ and strengths $\lambda$ as slow parameters.

    The learning loss adds the penalty
    $\frac{1}{2}\sum_i \lambda_i (\omega_i - \phi_i)^2$, which pulls each fast
    parameter towards its anchor. Strengths are stored as logarithms, so
    $\lambda = \exp(\text{log\_strength})$ stays positive under any gradient step; the
    meta-gradient is taken with respect to `log_strength`. Reference: Zucchet et
    al., "A contrastive rule for meta-learning", NeurIPS 2022, Section 4.1.

    **Fields:**

    - `anchor`: $\omega$, a tree with the structure of the fast parameters' float
        leaves.
    - `log_strength`: $\log\lambda$, a tree of the same structure.
    """

    anchor: PyTree
    log_strength: PyTree

    @classmethod
    def init(cls, fast: PyTree, strength: float = 1.0) -> "ComplexSynapse":
        """Build anchors at `fast`, with the same `strength` for every parameter."""
        _check_strength(strength)
        return cls(
            jax.tree_util.tree_map(jnp.asarray, _floats(fast)),
            _constant_like(fast, jnp.log(strength)),
        )

    @property
    def strength(self) -> PyTree:
        r"""$\lambda$, the positive per-parameter strengths."""
        return jax.tree_util.tree_map(jnp.exp, self.log_strength)

    def penalty(self, fast: PyTree) -> Scalar:
        r"""$\frac{1}{2}\sum_i \lambda_i (\omega_i - \phi_i)^2$ over the float leaves
        of `fast`."""
        return _penalty(self.log_strength, self.anchor, fast)


class LearnedL2(eqx.Module):
    r"""Per-parameter L2 strengths $\lambda$ as slow parameters.

    The complex synapse with every anchor at zero: the learning loss adds
    $\frac{1}{2}\sum_i \lambda_i \phi_i^2$. Strengths are stored as logarithms.

    **Fields:**

    - `log_strength`: $\log\lambda$, a tree with the structure of the fast
        parameters' float leaves.
    """

    log_strength: PyTree

    @classmethod
    def init(cls, fast: PyTree, strength: float = 1e-3) -> "LearnedL2":
        """Build strengths equal to `strength` for every parameter of `fast`."""
        _check_strength(strength)
        return cls(_constant_like(fast, jnp.log(strength)))

    @property
    def strength(self) -> PyTree:
        r"""$\lambda$, the positive per-parameter strengths."""
        return jax.tree_util.tree_map(jnp.exp, self.log_strength)

    def penalty(self, fast: PyTree) -> Scalar:
        r"""$\frac{1}{2}\sum_i \lambda_i \phi_i^2$ over the float leaves of `fast`."""
        return _penalty(self.log_strength, None, fast)
