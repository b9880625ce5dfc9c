"""Image classifiers used as the fast parameters of a learned-L2 problem, and the
bilevel problem itself.

Every classifier maps a batch of images `(n, height, width, channels)` to logits
`(n, classes)`. Batch normalisation has no mutable state: it normalises with the
mean and variance of a batch of reference rows computed inside the forward pass.
The inner solvers minimise a pure function of the fast parameters, so running
statistics threaded through `equinox.nn.State` would have no place to be updated.
Batch statistics are also what a batch-norm layer uses in training mode. The
learning loss uses the statistics of the learn set it is computed on. The
evaluation loss and the accuracies use the learn set's statistics too, as
inference-mode batch normalisation with population statistics of the training data
would. Predictions on the eval and test sets therefore never depend on each other.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, Int, PRNGKeyArray, Scalar

import eqcml


class TanhMLP(eqx.Module):
    """A multilayer perceptron with tanh hidden units over flattened images."""

    mlp: eqx.nn.MLP
    uses_batch_statistics = False

    def __init__(
        self,
        in_size: int,
        num_classes: int,
        width: int,
        depth: int,
        *,
        key: PRNGKeyArray,
    ):
        self.mlp = eqx.nn.MLP(in_size, num_classes, width, depth, jnp.tanh, key=key)

    def __call__(
        self, images: Float[Array, "n h w c"], num_reference: int | None = None
    ) -> Float[Array, "n classes"]:
        del num_reference  # no batch statistics
        return jax.vmap(self.mlp)(images.reshape(len(images), -1))


class BatchNorm(eqx.Module):
    """Batch normalisation over every axis but the last, with a learned gain and
    shift per feature and statistics from the first `num_reference` rows."""

    gain: Float[Array, " features"]
    shift: Float[Array, " features"]
    eps: float = eqx.field(static=True, default=1e-5)

    def __init__(self, features: int):
        self.gain = jnp.ones(features)
        self.shift = jnp.zeros(features)

    def __call__(self, h: Array, num_reference: int | None) -> Array:
        reference = h if num_reference is None else h[:num_reference]
        axes = tuple(range(h.ndim - 1))
        mean = jnp.mean(reference, axis=axes)
        variance = jnp.var(reference, axis=axes)
        return (h - mean) * jax.lax.rsqrt(variance + self.eps) * self.gain + self.shift


class LeNet5(eqx.Module):
    """LeNet-5 with batch normalisation before each nonlinearity and ReLU units.

    Two 5x5 convolutions (6 and 16 channels), each followed by batch norm, ReLU and
    2x2 average pooling, then dense layers of 120 and 84 units with batch norm and
    ReLU, and a linear output layer. Reference: LeCun, Bottou, Bengio and Haffner,
    "Gradient-based learning applied to document recognition", Proceedings of the
    IEEE (1998); batch normalisation: Ioffe and Szegedy, ICML 2015.
    """

    conv1: eqx.nn.Conv2d
    conv2: eqx.nn.Conv2d
    dense1: eqx.nn.Linear
    dense2: eqx.nn.Linear
    output: eqx.nn.Linear
    norms: tuple[BatchNorm, ...]
    uses_batch_statistics = True

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, *, key):
        height, width, channels = image_shape
        keys = jax.random.split(key, 5)
        self.conv1 = eqx.nn.Conv2d(channels, 6, 5, key=keys[0])
        self.conv2 = eqx.nn.Conv2d(6, 16, 5, key=keys[1])

        def pooled_size(size: int) -> int:  # two valid 5x5 convolutions, two 2x2 pools
            return ((size - 4) // 2 - 4) // 2

        flat = 16 * pooled_size(height) * pooled_size(width)
        self.dense1 = eqx.nn.Linear(flat, 120, key=keys[2])
        self.dense2 = eqx.nn.Linear(120, 84, key=keys[3])
        self.output = eqx.nn.Linear(84, num_classes, key=keys[4])
        self.norms = (BatchNorm(6), BatchNorm(16), BatchNorm(120), BatchNorm(84))

    def __call__(
        self, images: Float[Array, "n h w c"], num_reference: int | None = None
    ) -> Float[Array, "n classes"]:
        pool = eqx.nn.AvgPool2d(2, 2)
        # Convolutions need inputs of the weights' dtype; equinox's are channel-first.
        h = jnp.moveaxis(images.astype(self.conv1.weight.dtype), -1, 1)
        for conv, norm in ((self.conv1, self.norms[0]), (self.conv2, self.norms[1])):
            h = jax.vmap(conv)(h)
            h = jnp.moveaxis(norm(jnp.moveaxis(h, 1, -1), num_reference), -1, 1)
            h = jax.vmap(pool)(jax.nn.relu(h))
        h = h.reshape(len(h), -1)
        for dense, norm in ((self.dense1, self.norms[2]), (self.dense2, self.norms[3])):
            h = jax.nn.relu(norm(jax.vmap(dense)(h), num_reference))
        return jax.vmap(self.output)(h)


def build_model(
    name: str,
    image_shape: tuple[int, int, int],
    num_classes: int,
    *,
    width: int,
    depth: int,
    key: PRNGKeyArray,
) -> eqx.Module:
    """Build the classifier `name` ("mlp" or "lenet5") for images of `image_shape`."""
    if name == "mlp":
        size = image_shape[0] * image_shape[1] * image_shape[2]
        return TanhMLP(size, num_classes, width, depth, key=key)
    if name == "lenet5":
        return LeNet5(image_shape, num_classes, key=key)
    raise ValueError(f"Unknown model {name!r}; expected 'mlp' or 'lenet5'.")


def _loss_and_accuracy(
    logits: Float[Array, "n classes"], labels: Int[Array, " n"]
) -> tuple[Scalar, Scalar]:
    loss = jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, labels))
    accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == labels)
    return loss, accuracy


def predict(model, images: Array, reference: Array) -> Array:
    """Logits for `images`, with batch statistics taken from `reference` alone."""
    if not model.uses_batch_statistics:
        return model(images)
    logits = model(jnp.concatenate([reference, images]), len(reference))
    return logits[len(reference) :]


def evaluate(
    model, split: tuple[Array, Array], reference: Array
) -> tuple[Scalar, Scalar]:
    """Cross-entropy and accuracy on `split = (images, labels)`, with batch
    statistics from `reference`."""
    images, labels = split
    return _loss_and_accuracy(predict(model, images, reference), labels)


def learned_l2_problem() -> eqcml.Problem:
    """Build the learned-L2 classification problem over
    `data = {"learn": (images, labels), "eval": (images, labels)}`.

    The learning loss is the cross-entropy on the learn set plus the penalty
    $\\frac{1}{2}\\sum_i \\lambda_i \\phi_i^2$ of the slow [`eqcml.LearnedL2`][]
    parameters; the evaluation loss is the cross-entropy on the eval set. Both
    return `(loss, accuracy)`, so use `has_aux=True`.
    """

    def learn_loss(fast, slow, data):
        images, labels = data["learn"]
        loss, accuracy = _loss_and_accuracy(fast(images), labels)
        return loss + slow.penalty(fast), accuracy

    def eval_loss(fast, slow, data):
        del slow
        return evaluate(fast, data["eval"], data["learn"][0])

    return eqcml.Problem(learn_loss, eval_loss)
