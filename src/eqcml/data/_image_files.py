"""Parsers for the files MNIST and CIFAR-10 are distributed in, with numpy alone."""

import gzip
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

from ._images import LabelledImages

_IDX_UBYTE = 0x08
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_ARCHIVE = "cifar-10-python.tar.gz"
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_BATCH = "test_batch"


def parse_idx(content: bytes, ndim: int, name: str) -> np.ndarray:
    """Parse an IDX file of unsigned bytes (the MNIST format) into an array.

    The header is two zero bytes, the type code `0x08` (unsigned byte), the number
    of dimensions, and one big-endian 32-bit size per dimension.
    """
    if len(content) < 4 or content[0] != 0 or content[1] != 0:
        raise ValueError(
            f"{name} is not an IDX file: it does not start with two zero bytes."
        )
    if content[2] != _IDX_UBYTE or content[3] != ndim:
        raise ValueError(
            f"{name} has IDX type code {content[2]:#04x} and {content[3]} dimensions; "
            f"expected {_IDX_UBYTE:#04x} (unsigned byte) and {ndim}."
        )
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(content[4:header], dtype=">u4"))
    size = int(np.prod(shape))
    if len(content) - header != size:
        raise ValueError(
            f"{name} declares shape {shape} ({size} bytes) but holds "
            f"{len(content) - header} bytes of data."
        )
    return np.frombuffer(content, dtype=np.uint8, offset=header).reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path | None:
    # Mirrors spell the names with a dash or a dot before "idx", zipped or not.
    dotted = stem.replace("-idx", ".idx")
    for name in (f"{stem}.gz", stem, f"{dotted}.gz", dotted):
        if (folder / name).is_file():
            return folder / name
    return None


def find_mnist_folder(candidates: list[Path]) -> Path | None:
    """Return the first folder that contains all four MNIST IDX files, or `None`."""
    for folder in candidates:
        stems = [stem for pair in MNIST_FILES.values() for stem in pair]
        if all(_find_idx(folder, stem) is not None for stem in stems):
            return folder
    return None


def _read_maybe_gzip(path: Path) -> bytes:
    content = path.read_bytes()
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    return content


def read_mnist_idx(folder: Path) -> dict[str, LabelledImages]:
    """Read the MNIST train and test splits from IDX files in `folder`.

    **Returns:**

    `{"train": ..., "test": ...}` with uint8 images of shape `(n, 28, 28, 1)` and
    int64 labels.
    """
    splits = {}
    for split, (image_stem, label_stem) in MNIST_FILES.items():
        image_path = _find_idx(folder, image_stem)
        label_path = _find_idx(folder, label_stem)
        if image_path is None or label_path is None:
            raise FileNotFoundError(
                f"Missing {image_stem} or {label_stem} in {folder}."
            )
        images = parse_idx(_read_maybe_gzip(image_path), 3, str(image_path))
        labels = parse_idx(_read_maybe_gzip(label_path), 1, str(label_path))
        if len(images) != len(labels):
            raise ValueError(
                f"{image_path} holds {len(images)} images but {label_path} holds "
                f"{len(labels)} labels."
            )
        splits[split] = LabelledImages(images[..., None], labels.astype(np.int64))
    return splits


class _ArrayUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and nothing else.

    A plain `pickle.load` runs whatever code the file names. The CIFAR-10 batches
    need only numpy's array constructors and `_codecs.encode`, with which Python 3
    pickles bytes at protocol 2, so every other global is rejected.
    """

    _allowed = {
        ("_codecs", "encode"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self._allowed:
            raise pickle.UnpicklingError(
                f"The CIFAR-10 batch refers to {module}.{name}, which a CIFAR-10 batch "
                "never needs; the file is not a CIFAR-10 python batch."
            )
        return super().find_class(module, name)


def parse_cifar_batch(content: bytes, name: str) -> LabelledImages:
    """Parse one CIFAR-10 python batch: a pickled dict with keys `b"data"`, a uint8
    array of shape `(n, 3072)` holding the red, green and blue planes of each 32x32
    image in turn, and `b"labels"`, a list of `n` ints."""
    try:
        batch = _ArrayUnpickler(io.BytesIO(content), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as error:
        raise ValueError(f"{name} is not a CIFAR-10 python batch: {error}") from error
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(
            f"{name} is not a CIFAR-10 python batch: missing b'data' or b'labels'."
        )
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise ValueError(
            f"{name} holds data of shape {data.shape} and {len(labels)} labels; "
            "expected (n, 3072) and n."
        )
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return LabelledImages(np.ascontiguousarray(images), labels)


def find_cifar10_source(candidates: list[Path]) -> Path | None:
    """Return the first `cifar-10-batches-py` folder (or `cifar-10-python.tar.gz`
    archive) that contains all six batches, or `None`."""
    names = (*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH)
    for folder in candidates:
        for batch_folder in (folder / CIFAR10_FOLDER, folder):
            if all((batch_folder / n).is_file() for n in names):
                return batch_folder
        if (folder / CIFAR10_ARCHIVE).is_file():
            return folder / CIFAR10_ARCHIVE
    return None


def _concatenate(parts: list[LabelledImages]) -> LabelledImages:
    return LabelledImages(
        np.concatenate([p.images for p in parts]),
        np.concatenate([p.labels for p in parts]),
    )


def read_cifar10_batches(source: Path) -> dict[str, LabelledImages]:
    """Read the CIFAR-10 train and test splits from a `cifar-10-batches-py` folder
    or from the `cifar-10-python.tar.gz` archive that contains it.

    **Returns:**

    `{"train": ..., "test": ...}` with uint8 images of shape `(n, 32, 32, 3)` and
    int64 labels.
    """
    names = (*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH)
    if source.is_dir():
        contents = {n: (source / n).read_bytes() for n in names}
    else:
        with tarfile.open(source, "r:gz") as archive:
            contents = {}
            for n in names:
                try:
                    member = archive.extractfile(f"{CIFAR10_FOLDER}/{n}")
                except KeyError:
                    member = None
                if member is None:
                    raise ValueError(f"{source} has no file {CIFAR10_FOLDER}/{n}.")
                contents[n] = member.read()
    batches = {n: parse_cifar_batch(c, f"{source}/{n}") for n, c in contents.items()}
    return {
        "train": _concatenate([batches[n] for n in CIFAR10_TRAIN_BATCHES]),
        "test": batches[CIFAR10_TEST_BATCH],
    }
