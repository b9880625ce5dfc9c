"""PyTree arithmetic over the floating-point array leaves of a tree."""

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, PyTree, Scalar


def is_floating_array(x) -> bool:
    """Return whether `x` is a JAX or NumPy array of a floating-point dtype."""
    return isinstance(x, (jax.Array, np.ndarray, np.generic)) and jnp.issubdtype(
        x.dtype, jnp.floating
    )


def _leaves(tree: PyTree) -> list[Array]:
    return [x for x in jax.tree_util.tree_leaves(tree) if is_floating_array(x)]


def tree_dot(a: PyTree, b: PyTree) -> Scalar:
    """Inner product of two trees of the same structure, summed over float leaves."""
    products = [jnp.vdot(x, y) for x, y in zip(_leaves(a), _leaves(b), strict=True)]
    if not products:
        return jnp.zeros(())
    return sum(products[1:], start=products[0])


def tree_norm(tree: PyTree) -> Scalar:
    """Euclidean norm of all floating-point leaves of `tree` taken as one vector."""
    leaves = _leaves(tree)
    if not leaves:
        return jnp.zeros(())
    squares = [jnp.sum(jnp.square(x)) for x in leaves]
    return jnp.sqrt(sum(squares[1:], start=squares[0]))


def tree_isfinite(tree: PyTree) -> Bool[Array, ""]:
    """Return whether every floating-point leaf of `tree` is finite."""
    flags = [jnp.all(jnp.isfinite(x)) for x in _leaves(tree)]
    return jnp.all(jnp.stack(flags)) if flags else jnp.array(True)


def tree_size(tree: PyTree) -> int:
    """Number of scalars in the floating-point leaves of `tree`."""
    return sum(int(np.prod(x.shape)) for x in _leaves(tree))
