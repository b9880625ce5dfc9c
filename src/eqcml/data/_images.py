"""Image classification data split for meta-learning: learn, eval and test sets."""

from typing import NamedTuple

import numpy as np


class LabelledImages(NamedTuple):
    """Images of shape `(n, height, width, channels)` and integer labels of shape
    `(n,)`."""

    images: np.ndarray
    labels: np.ndarray


class ImageSplits(NamedTuple):
    """The three sets of a supervised meta-learning problem.

    **Fields:**

    - `learn`: the examples of the learning loss (the inner training set).
    - `eval`: the examples of the evaluation loss (the validation set).
    - `test`: held-out examples, used for neither loss.
    - `num_classes`: the number of classes; labels lie in `[0, num_classes)`.
    """

    learn: LabelledImages
    eval: LabelledImages
    test: LabelledImages
    num_classes: int


def _check_count(name: str, value: int | None) -> None:
    if value is not None and (not isinstance(value, int) or value < 1):
        raise ValueError(f"`{name}` must be a positive int or None, got {value!r}.")


def split_for_meta_learning(
    train: LabelledImages,
    test: LabelledImages,
    num_classes: int,
    *,
    seed: int,
    num_learn: int | None,
    num_eval: int | None,
    scale: float,
    standardize: bool,
    dtype,
) -> ImageSplits:
    """Split a training set at random into learn and eval sets, and scale the pixels.

    With `num_learn = num_eval = None`, the training set is halved (the learn set
    gets the extra example when its size is odd). With both given, a random subset
    of `num_learn + num_eval` training examples is drawn and split in that order.
    Pixels are divided by `scale`; with `standardize=True` they are then centred and
    scaled per channel with the learn set's mean and standard deviation.
    """
    _check_count("num_learn", num_learn)
    _check_count("num_eval", num_eval)
    if (num_learn is None) != (num_eval is None):
        raise ValueError(
            "Pass both `num_learn` and `num_eval` to draw a subset, or neither to "
            f"halve the training set; got num_learn={num_learn}, num_eval={num_eval}."
        )
    n = len(train.labels)
    if num_learn is None:
        num_eval = n // 2
        num_learn = n - num_eval
    elif num_learn + num_eval > n:
        raise ValueError(
            f"`num_learn + num_eval` = {num_learn + num_eval} exceeds the "
            f"{n} training examples."
        )
    order = np.random.default_rng(seed).permutation(n)
    learn_index = order[:num_learn]
    eval_index = order[num_learn : num_learn + num_eval]

    def prepare(images: np.ndarray) -> np.ndarray:
        return images.astype(np.float64) / scale

    learn_images = prepare(train.images[learn_index])
    if standardize:
        mean = learn_images.mean(axis=(0, 1, 2))
        std = learn_images.std(axis=(0, 1, 2))
        std = np.where(std > 0, std, 1.0)
    else:
        mean, std = 0.0, 1.0

    def finish(images: np.ndarray, labels: np.ndarray) -> LabelledImages:
        images = ((images - mean) / std).astype(dtype)
        return LabelledImages(images, labels.astype(np.int32))

    return ImageSplits(
        finish(learn_images, train.labels[learn_index]),
        finish(prepare(train.images[eval_index]), train.labels[eval_index]),
        finish(prepare(test.images), test.labels),
        num_classes,
    )


# The digits test split is drawn once with this seed, so it stays the same for
# every `seed` of the learn/eval split, as the fixed test sets of MNIST and CIFAR-10.
_DIGITS_TEST_SEED = 0


def load_digits(
    *,
    seed: int = 0,
    num_learn: int | None = None,
    num_eval: int | None = None,
    num_test: int = 297,
    standardize: bool = False,
    dtype=np.float32,
) -> ImageSplits:
    """Load scikit-learn's handwritten digits, split for meta-learning.

    The data set holds 1,797 real 8x8 grey-scale images of the digits 0-9 with
    pixel values 0-16, shipped inside scikit-learn (no download). It is the
    offline stand-in for MNIST. A fixed random test split of `num_test` images is
    taken first (the same for every `seed`); the remaining 1,500 training images
    (with the default `num_test`) are then split into the learn and eval sets as in
    [`eqcml.data.load_mnist`][].

    Source: Alpaydin and Kaynak, "Optical Recognition of Handwritten Digits", UCI
    Machine Learning Repository (1998), as distributed in scikit-learn.

    **Arguments:**

    - `seed`: the seed of the learn/eval split.
    - `num_learn`, `num_eval`: the sizes of a random training subset split into
        learn and eval sets; `None` for both halves the 1,500 training images.
    - `num_test`: the size of the fixed test split.
    - `standardize`: centre and scale the pixels with the learn set's statistics;
        otherwise pixels are scaled to `[0, 1]`.
    - `dtype`: the floating-point dtype of the images.

    **Returns:**

    An [`eqcml.data.ImageSplits`][] with images of shape `(n, 8, 8, 1)`.
    """
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as error:
        raise ImportError(
            "`eqcml.data.load_digits` reads the digits shipped with scikit-learn, "
            "which is not installed. Install it with `pip install 'eqcml[data]'` or "
            "`pip install scikit-learn`."
        ) from error
    bunch = sklearn_load_digits()
    images = np.asarray(bunch.images, dtype=np.float64)[..., None]
    labels = np.asarray(bunch.target, dtype=np.int64)
    if not 1 <= num_test < len(labels) - 1:
        raise ValueError(
            f"`num_test` must lie in [1, {len(labels) - 2}], got {num_test}."
        )
    order = np.random.default_rng(_DIGITS_TEST_SEED).permutation(len(labels))
    test, train = order[:num_test], order[num_test:]
    return split_for_meta_learning(
        LabelledImages(images[train], labels[train]),
        LabelledImages(images[test], labels[test]),
        10,
        seed=seed,
        num_learn=num_learn,
        num_eval=num_eval,
        scale=16.0,
        standardize=standardize,
        dtype=dtype,
    )
