"""MNIST and CIFAR-10 from a local copy: raw files or a tensorflow-datasets folder."""

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._image_files import (
    CIFAR10_ARCHIVE,
    CIFAR10_FOLDER,
    find_cifar10_source,
    find_mnist_folder,
    MNIST_FILES,
    read_cifar10_batches,
    read_mnist_idx,
)
from ._images import ImageSplits, LabelledImages, split_for_meta_learning
from ._tfds import download_and_prepare, find_prepared, read_prepared

logger = logging.getLogger(__name__)

DATA_DIR_VARIABLE = "EQCML_DATA_DIR"


def resolve_data_dir(data_dir: str | os.PathLike | None) -> Path:
    """`data_dir`, else `$EQCML_DATA_DIR`, else `$TFDS_DATA_DIR`, else
    `~/tensorflow_datasets` (the tensorflow-datasets default)."""
    if data_dir is None:
        data_dir = (
            os.environ.get(DATA_DIR_VARIABLE)
            or os.environ.get("TFDS_DATA_DIR")
            or "~/tensorflow_datasets"
        )
    return Path(data_dir).expanduser()


def _not_found(
    title: str, name: str, root: Path, searched: list[Path], raw: str
) -> str:
    places = ", ".join(str(p) for p in searched)
    return (
        f"{title} was not found under {root} (searched {places} and "
        f"{root / name}/X.Y.Z "
        "for a tensorflow-datasets copy). Provide it in one of three ways, then pass "
        f"the folder as `data_dir` or set ${DATA_DIR_VARIABLE}:\n"
        f"  1. {raw}\n"
        "  2. a tensorflow-datasets copy prepared on a machine with network access and "
        f"TensorFlow: `tfds build {name} --data_dir DIR --file_format array_record`, "
        "then copy DIR here (the array_record format reads without TensorFlow);\n"
        f"  3. `download=True`, which prepares the copy with tensorflow-datasets "
        "and needs network access and TensorFlow."
    )


class _Dataset(NamedTuple):
    name: str  # the tensorflow-datasets name
    title: str
    image_shape: tuple[int, int, int]
    find_raw: Callable[[list[Path]], Path | None]
    read_raw: Callable[[Path], dict[str, LabelledImages]]
    raw_subfolders: tuple[str, ...]
    raw_description: str


def _read(dataset: _Dataset, data_dir, download: bool) -> dict[str, LabelledImages]:
    root = resolve_data_dir(data_dir)
    candidates = [root, *(root / s for s in dataset.raw_subfolders)]
    raw = dataset.find_raw(candidates)
    if raw is not None:
        logger.info("Reading %s from %s", dataset.title, raw)
        return dataset.read_raw(raw)
    prepared = find_prepared(root, dataset.name)
    if prepared is None and download:
        prepared = download_and_prepare(dataset.name, root)
    if prepared is None:
        raise FileNotFoundError(
            _not_found(
                dataset.title, dataset.name, root, candidates, dataset.raw_description
            )
        )
    logger.info(
        "Reading %s from the tensorflow-datasets copy in %s", dataset.title, prepared
    )
    return read_prepared(prepared)


def _check(
    splits: dict[str, LabelledImages], dataset: _Dataset, num_classes: int
) -> None:
    for split, data in splits.items():
        if data.images.shape[1:] != dataset.image_shape:
            raise ValueError(
                f"{dataset.title} {split} images have shape {data.images.shape[1:]}, "
                f"expected {dataset.image_shape}."
            )
        if len(data.labels) and not (
            0 <= data.labels.min() and data.labels.max() < num_classes
        ):
            raise ValueError(
                f"{dataset.title} {split} labels range over [{data.labels.min()}, "
                f"{data.labels.max()}], expected [0, {num_classes - 1}]."
            )


def _load(dataset: _Dataset, data_dir, download: bool, **split_options) -> ImageSplits:
    splits = _read(dataset, data_dir, download)
    _check(splits, dataset, 10)
    return split_for_meta_learning(
        splits["train"], splits["test"], 10, scale=255.0, **split_options
    )


_MNIST = _Dataset(
    "mnist",
    "MNIST",
    (28, 28, 1),
    find_mnist_folder,
    read_mnist_idx,
    ("mnist", "MNIST/raw"),
    "the four IDX files "
    + ", ".join(f"{stem}.gz" for pair in MNIST_FILES.values() for stem in pair)
    + " in that folder;",
)
_CIFAR10 = _Dataset(
    "cifar10",
    "CIFAR-10",
    (32, 32, 3),
    find_cifar10_source,
    read_cifar10_batches,
    ("cifar10",),
    f"the folder {CIFAR10_FOLDER} (data_batch_1 to data_batch_5 and test_batch) "
    f"or the archive {CIFAR10_ARCHIVE} in that folder;",
)


_DOC_ARGUMENTS = """
    **Arguments:**

    - `data_dir`: the folder holding the data; defaults to `$EQCML_DATA_DIR`, then
        `$TFDS_DATA_DIR`, then `~/tensorflow_datasets`.
    - `seed`: the seed of the random learn/eval split.
    - `num_learn`, `num_eval`: the sizes of a random training subset split into
        learn and eval sets; `None` for both halves the training split.
    - `standardize`: centre and scale the pixels per channel with the learn set's
        statistics; otherwise pixels are scaled to `[0, 1]`.
    - `download`: when no local copy is found, download and prepare one with
        tensorflow-datasets. This needs network access and TensorFlow; nothing is
        downloaded unless this is `True`.
    - `dtype`: the floating-point dtype of the images.

    **Returns:**

    An [`eqcml.data.ImageSplits`][].

    **Raises:**

    `FileNotFoundError`, at once and without network access, when no copy is found
    and `download=False`; its message lists the folders searched and the ways to
    provide the data.
"""


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    num_learn: int | None = None,
    num_eval: int | None = None,
    standardize: bool = False,
    download: bool = False,
    dtype=np.float32,
) -> ImageSplits:
    """Load MNIST from a local copy, split for meta-learning.

    The 60,000 training images are split at random (with `seed`) into learn and
    eval sets; the 10,000 test images form the test set. Images have shape
    `(n, 28, 28, 1)`.

    The copy is either the four IDX files (`train-images-idx3-ubyte.gz`,
    `train-labels-idx1-ubyte.gz`, `t10k-images-idx3-ubyte.gz`,
    `t10k-labels-idx1-ubyte.gz`, zipped or not) in `data_dir`, `data_dir/mnist` or
    `data_dir/MNIST/raw`, or a tensorflow-datasets copy in `data_dir/mnist/X.Y.Z`.

    Source: LeCun, Bottou, Bengio and Haffner, "Gradient-based learning applied to
    document recognition", Proceedings of the IEEE (1998).
    """
    return _load(
        _MNIST,
        data_dir,
        download,
        seed=seed,
        num_learn=num_learn,
        num_eval=num_eval,
        standardize=standardize,
        dtype=dtype,
    )


def load_cifar10(
    data_dir: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    num_learn: int | None = None,
    num_eval: int | None = None,
    standardize: bool = False,
    download: bool = False,
    dtype=np.float32,
) -> ImageSplits:
    """Load CIFAR-10 from a local copy, split for meta-learning.

    The 50,000 training images are split at random (with `seed`) into learn and
    eval sets; the 10,000 test images form the test set. Images have shape
    `(n, 32, 32, 3)`.

    The copy is either the python version of the data set (the folder
    `cifar-10-batches-py` with `data_batch_1` to `data_batch_5` and `test_batch`,
    or the archive `cifar-10-python.tar.gz` that contains it) in `data_dir` or
    `data_dir/cifar10`, or a tensorflow-datasets copy in `data_dir/cifar10/X.Y.Z`.
    The batches are Python pickles; they are read with an unpickler that accepts
    numpy arrays only.

    Source: Krizhevsky, "Learning multiple layers of features from tiny images",
    technical report, University of Toronto (2009).
    """
    return _load(
        _CIFAR10,
        data_dir,
        download,
        seed=seed,
        num_learn=num_learn,
        num_eval=num_eval,
        standardize=standardize,
        dtype=dtype,
    )


# Docstrings are None under `python -OO`.
for _loader in (load_mnist, load_cifar10):
    if _loader.__doc__ is not None:
        _loader.__doc__ += _DOC_ARGUMENTS
