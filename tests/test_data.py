"""Image loaders: scikit-learn digits, MNIST and CIFAR-10 from files written here in
their real on-disk formats, and the errors raised when no copy is found."""

import gzip
import importlib.util
import io
import pickle
import struct
import sys
import tarfile
import textwrap
import time

import numpy as np
import pytest

import eqcml


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def _fake_mnist(n_train=20, n_test=6, seed=0):
    rng = np.random.default_rng(seed)
    train = (rng.integers(0, 256, (n_train, 28, 28)), rng.integers(0, 10, n_train))
    test = (rng.integers(0, 256, (n_test, 28, 28)), rng.integers(0, 10, n_test))
    return train, test


def _write_mnist(folder, train, test, *, zipped=True, dotted=False):
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte": train[0],
        "train-labels-idx1-ubyte": train[1],
        "t10k-images-idx3-ubyte": test[0],
        "t10k-labels-idx1-ubyte": test[1],
    }
    for stem, array in files.items():
        name = stem.replace("-idx", ".idx") if dotted else stem
        content = _idx_bytes(array)
        if zipped:
            (folder / f"{name}.gz").write_bytes(gzip.compress(content))
        else:
            (folder / name).write_bytes(content)


def _sorted_rows(images: np.ndarray) -> np.ndarray:
    flat = images.reshape(len(images), -1)
    return flat[np.lexsort(flat.T[::-1])]


# ---------------------------------------------------------------- digits


def test_digits_shapes_and_dtypes():
    splits = eqcml.data.load_digits()
    assert splits.num_classes == 10
    assert [len(s.labels) for s in splits[:3]] == [750, 750, 297]
    for split in splits[:3]:
        assert split.images.shape[1:] == (8, 8, 1)
        assert split.images.dtype == np.float32
        assert split.labels.dtype == np.int32
        assert split.labels.min() >= 0
        assert split.labels.max() <= 9
        assert split.images.min() >= 0.0
        assert split.images.max() <= 1.0


def test_digits_test_split_fixed_across_seeds():
    first = eqcml.data.load_digits(seed=0)
    second = eqcml.data.load_digits(seed=1)
    np.testing.assert_array_equal(first.test.images, second.test.images)
    np.testing.assert_array_equal(first.test.labels, second.test.labels)
    assert not np.array_equal(first.learn.labels, second.learn.labels)
    pool_first = np.concatenate([first.learn.images, first.eval.images])
    pool_second = np.concatenate([second.learn.images, second.eval.images])
    np.testing.assert_array_equal(_sorted_rows(pool_first), _sorted_rows(pool_second))


def test_digits_same_seed_reproducible():
    first = eqcml.data.load_digits(seed=3)
    second = eqcml.data.load_digits(seed=3)
    np.testing.assert_array_equal(first.learn.images, second.learn.images)
    np.testing.assert_array_equal(first.eval.labels, second.eval.labels)


def test_digits_subset_and_standardize():
    splits = eqcml.data.load_digits(num_learn=50, num_eval=950, standardize=True)
    assert len(splits.learn.labels) == 50
    assert len(splits.eval.labels) == 950
    np.testing.assert_allclose(splits.learn.images.mean(), 0.0, atol=1e-5)
    np.testing.assert_allclose(splits.learn.images.std(), 1.0, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_learn=50),
        dict(num_learn=1000, num_eval=1000),
        dict(num_learn=0, num_eval=10),
        dict(num_test=0),
    ],
)
def test_digits_invalid_sizes(kwargs):
    with pytest.raises(ValueError, match="num_"):
        eqcml.data.load_digits(**kwargs)


# ---------------------------------------------------------------- MNIST


@pytest.mark.parametrize(
    "subfolder,zipped,dotted",
    [("", True, False), ("mnist", False, False), ("MNIST/raw", True, True)],
)
def test_mnist_idx_files(tmp_path, subfolder, zipped, dotted):
    train, test = _fake_mnist()
    _write_mnist(tmp_path / subfolder, train, test, zipped=zipped, dotted=dotted)
    splits = eqcml.data.load_mnist(tmp_path, seed=1)
    assert [len(s.labels) for s in splits[:3]] == [10, 10, 6]
    for split in splits[:3]:
        assert split.images.shape[1:] == (28, 28, 1)
        assert split.images.dtype == np.float32
        assert split.labels.dtype == np.int32
    np.testing.assert_array_equal(splits.test.labels, test[1])
    np.testing.assert_allclose(splits.test.images[..., 0] * 255, test[0], atol=1e-3)
    pool = np.concatenate([splits.learn.images, splits.eval.images])[..., 0] * 255
    np.testing.assert_allclose(
        _sorted_rows(np.round(pool)), _sorted_rows(train[0].astype(float))
    )


def test_mnist_split_depends_on_seed(tmp_path):
    train, test = _fake_mnist()
    _write_mnist(tmp_path, train, test)
    first = eqcml.data.load_mnist(tmp_path, seed=0)
    again = eqcml.data.load_mnist(tmp_path, seed=0)
    other = eqcml.data.load_mnist(tmp_path, seed=1)
    np.testing.assert_array_equal(first.learn.images, again.learn.images)
    assert not np.array_equal(first.learn.images, other.learn.images)


def test_mnist_data_dir_from_environment(tmp_path, monkeypatch):
    train, test = _fake_mnist()
    _write_mnist(tmp_path, train, test)
    monkeypatch.setenv("EQCML_DATA_DIR", str(tmp_path))
    splits = eqcml.data.load_mnist()
    assert len(splits.test.labels) == 6


def test_mnist_bad_magic_number(tmp_path):
    train, test = _fake_mnist()
    _write_mnist(tmp_path, train, test, zipped=False)
    path = tmp_path / "train-images-idx3-ubyte"
    content = bytearray(path.read_bytes())
    content[2] = 0x0D  # the IDX type code of float32
    path.write_bytes(bytes(content))
    with pytest.raises(ValueError, match="type code 0x0d"):
        eqcml.data.load_mnist(tmp_path)


def test_mnist_truncated_file(tmp_path):
    train, test = _fake_mnist()
    _write_mnist(tmp_path, train, test, zipped=False)
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ValueError, match="declares shape"):
        eqcml.data.load_mnist(tmp_path)


def test_mnist_label_out_of_range(tmp_path):
    train, test = _fake_mnist()
    test = (test[0], np.full_like(test[1], 11))
    _write_mnist(tmp_path, train, test)
    with pytest.raises(ValueError, match="labels range"):
        eqcml.data.load_mnist(tmp_path)


# ---------------------------------------------------------------- CIFAR-10


def _cifar_batch(n: int, seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 10, n)
    # Rows hold the red, then green, then blue plane of each image.
    data = images.transpose(0, 3, 1, 2).reshape(n, 3072)
    batch = {
        b"batch_label": b"batch",
        b"labels": [int(x) for x in labels],
        b"data": data,
        b"filenames": [b"x.png"] * n,
    }
    return pickle.dumps(batch, protocol=2), images, labels


def _write_cifar(folder, *, archive=False):
    batches = {f"data_batch_{i}": _cifar_batch(4, i) for i in range(1, 6)}
    batches["test_batch"] = _cifar_batch(3, 9)
    if archive:
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(folder / "cifar-10-python.tar.gz", "w:gz") as tar:
            for name, (content, _, _) in batches.items():
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    else:
        batch_folder = folder / "cifar-10-batches-py"
        batch_folder.mkdir(parents=True)
        for name, (content, _, _) in batches.items():
            (batch_folder / name).write_bytes(content)
    return batches


@pytest.mark.parametrize("archive", [False, True])
def test_cifar10_python_batches(tmp_path, archive):
    batches = _write_cifar(tmp_path, archive=archive)
    splits = eqcml.data.load_cifar10(tmp_path)
    assert [len(s.labels) for s in splits[:3]] == [10, 10, 3]
    for split in splits[:3]:
        assert split.images.shape[1:] == (32, 32, 3)
        assert split.images.dtype == np.float32
        assert split.labels.dtype == np.int32
    _, test_images, test_labels = batches["test_batch"]
    np.testing.assert_array_equal(splits.test.labels, test_labels)
    np.testing.assert_allclose(splits.test.images * 255, test_images, atol=1e-3)
    train_images = np.concatenate([batches[f"data_batch_{i}"][1] for i in range(1, 6)])
    pool = np.concatenate([splits.learn.images, splits.eval.images]) * 255
    np.testing.assert_allclose(
        _sorted_rows(np.round(pool)), _sorted_rows(train_images.astype(float))
    )


def test_cifar10_rejects_foreign_pickle(tmp_path):
    _write_cifar(tmp_path)
    # A pickle that would call os.system when loaded with pickle.load.
    payload = b"cos\nsystem\n(S'true'\ntR."
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(payload)
    with pytest.raises(ValueError, match="os.system"):
        eqcml.data.load_cifar10(tmp_path)


def test_cifar10_missing_key(tmp_path):
    _write_cifar(tmp_path)
    content = pickle.dumps({b"data": np.zeros((1, 3072), np.uint8)}, protocol=2)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(content)
    with pytest.raises(ValueError, match="b'labels'"):
        eqcml.data.load_cifar10(tmp_path)


# ---------------------------------------------------------------- missing data


@pytest.mark.parametrize(
    "loader,name",
    [(eqcml.data.load_mnist, "mnist"), (eqcml.data.load_cifar10, "cifar10")],
)
def test_missing_data_fails_fast(tmp_path, loader, name):
    (tmp_path / name).mkdir()  # an empty folder is not a copy
    start = time.monotonic()
    with pytest.raises(FileNotFoundError) as error:
        loader(tmp_path)
    assert time.monotonic() - start < 5.0
    message = str(error.value)
    assert str(tmp_path) in message
    assert f"tfds build {name}" in message
    assert "download=True" in message


_HAS_TFDS = importlib.util.find_spec("tensorflow_datasets") is not None
_HAS_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None


def test_tfds_missing_message(tmp_path, monkeypatch):
    version = tmp_path / "mnist" / "3.0.1"
    version.mkdir(parents=True)
    (version / "dataset_info.json").write_text('{"fileFormat": "array_record"}')
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(ImportError, match=r"eqcml\[data\]"):
        eqcml.data.load_mnist(tmp_path)


@pytest.mark.skipif(not _HAS_TFDS or _HAS_TENSORFLOW, reason="needs tfds without TF")
def test_download_without_tensorflow(tmp_path):
    start = time.monotonic()
    with pytest.raises(ImportError, match="needs TensorFlow"):
        eqcml.data.load_mnist(tmp_path, download=True)
    assert time.monotonic() - start < 10.0


_TINY_BUILDER = """
import numpy as np
import tensorflow_datasets as tfds


class Mnist(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    VERSION = tfds.core.Version("3.0.1")

    def _info(self):
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8),
                    "label": tfds.features.ClassLabel(num_classes=10),
                }
            )
        )

    def _split_generators(self, dl_manager):
        return {
            "train": self._generate_examples(12),
            "test": self._generate_examples(5),
        }

    def _generate_examples(self, n):
        for i in range(n):
            image = np.full((28, 28, 1), 10 * i + n, dtype=np.uint8)
            yield i, {"image": image, "label": i % 10}
"""


@pytest.mark.skipif(not _HAS_TFDS, reason="tensorflow-datasets is not installed")
def test_tfds_prepared_copy(tmp_path, monkeypatch):
    # A real tensorflow-datasets writer prepares the copy. The image feature is a
    # raw uint8 tensor instead of the PNG-encoded `Image` feature of the published
    # MNIST builder, because encoding PNGs needs TensorFlow.
    package = tmp_path / "builders" / "tinymnist"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "builder.py").write_text(textwrap.dedent(_TINY_BUILDER))
    monkeypatch.syspath_prepend(str(tmp_path / "builders"))
    from tinymnist.builder import Mnist

    data_dir = tmp_path / "data"
    Mnist(data_dir=str(data_dir), file_format="array_record").download_and_prepare()
    splits = eqcml.data.load_mnist(data_dir)
    assert [len(s.labels) for s in splits[:3]] == [6, 6, 5]
    assert splits.test.images.shape == (5, 28, 28, 1)
    assert splits.test.images.dtype == np.float32
    assert sorted(splits.test.labels.tolist()) == [0, 1, 2, 3, 4]
    pixels = sorted(np.round(splits.test.images[:, 0, 0, 0] * 255).tolist())
    assert pixels == [5.0, 15.0, 25.0, 35.0, 45.0]
