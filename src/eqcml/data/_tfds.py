"""Read data sets prepared by tensorflow-datasets, and prepare them on request.

Reading an `array_record` or `parquet` copy needs tensorflow-datasets but not
TensorFlow; a `tfrecord` copy (the tensorflow-datasets default) and preparing a copy
both need TensorFlow.
"""

import importlib.util
import json
import logging
import re
from pathlib import Path

import numpy as np

from ._images import LabelledImages

logger = logging.getLogger(__name__)

_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
_READ_CHUNK = 4096


def import_tfds():
    """Import tensorflow-datasets, or raise an `ImportError` that explains how to
    install it."""
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise ImportError(
            "Reading a tensorflow-datasets copy needs the package "
            f"`tensorflow-datasets`, which failed to import ({error}). Install it "
            "with `pip install 'eqcml[data]'`; the extra also installs "
            "`importlib_resources`, which tensorflow-datasets 4.9.10 imports on "
            "Python 3.11 without declaring it as a dependency."
        ) from error
    return tfds


def find_prepared(data_dir: Path, name: str) -> Path | None:
    """The folder of the newest prepared version of `name` under `data_dir`
    (`data_dir/name/X.Y.Z` with a `dataset_info.json`), or `None`."""
    root = data_dir / name
    if not root.is_dir():
        return None
    versions = []
    for child in root.iterdir():
        match = _VERSION.match(child.name)
        if match and (child / "dataset_info.json").is_file():
            versions.append((tuple(int(g) for g in match.groups()), child))
    return max(versions)[1] if versions else None


def _read_source(source, image_key: str, label_key: str) -> LabelledImages:
    images, labels = [], []
    getitems = getattr(source, "__getitems__", None)
    for start in range(0, len(source), _READ_CHUNK):
        indices = list(range(start, min(start + _READ_CHUNK, len(source))))
        records = getitems(indices) if getitems else [source[i] for i in indices]
        images.extend(np.asarray(r[image_key]) for r in records)
        labels.extend(int(r[label_key]) for r in records)
    return LabelledImages(np.stack(images), np.asarray(labels, dtype=np.int64))


def read_prepared(
    version_dir: Path, *, image_key: str = "image", label_key: str = "label"
) -> dict[str, LabelledImages]:
    """Read the `train` and `test` splits of a tensorflow-datasets copy.

    The builder is restored from the files in `version_dir` with
    `tfds.builder_from_directory`, so the features stored on disk are used and
    nothing is downloaded.

    **Returns:**

    `{"train": ..., "test": ...}` with the images as stored (uint8, `(n, h, w, c)`)
    and int64 labels.
    """
    info = json.loads((version_dir / "dataset_info.json").read_text())
    file_format = info.get("fileFormat", "tfrecord")
    tfds = import_tfds()
    builder = tfds.builder_from_directory(str(version_dir))
    missing = {"train", "test"} - set(builder.info.splits.keys())
    if missing:
        raise ValueError(
            f"The tensorflow-datasets copy in {version_dir} has no split(s) "
            f"{sorted(missing)}; its splits are {sorted(builder.info.splits.keys())}."
        )
    if file_format in ("array_record", "parquet"):
        sources = builder.as_data_source()
        return {
            s: _read_source(sources[s], image_key, label_key) for s in ("train", "test")
        }
    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError(
            f"The tensorflow-datasets copy in {version_dir} is in the "
            f"{file_format!r} format, which only TensorFlow can read, and TensorFlow "
            "is not installed. Install TensorFlow, or prepare the copy in the "
            "array_record format, which reads without it: `tfds build "
            f"{info.get('name', '<name>')} --data_dir DIR --file_format array_record`."
        )
    # NOTE: this TensorFlow path is not covered by the test suite, which runs
    # without TensorFlow.
    splits = {}
    for split in ("train", "test"):
        batch = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
        splits[split] = LabelledImages(
            np.asarray(batch[image_key]), np.asarray(batch[label_key], dtype=np.int64)
        )
    return splits


def download_and_prepare(name: str, data_dir: Path) -> Path:
    """Download and prepare `name` into `data_dir` with tensorflow-datasets, in the
    array_record format. Needs network access and TensorFlow."""
    tfds = import_tfds()
    if importlib.util.find_spec("tensorflow") is None:
        raise ImportError(
            f"`download=True` prepares {name} with tensorflow-datasets, which needs "
            "TensorFlow (`pip install tensorflow`) and network access. Offline, "
            "provide the files instead: see the error raised with `download=False`."
        )
    logger.warning(
        "Downloading and preparing %s into %s with tensorflow-datasets; this needs "
        "network access.",
        name,
        data_dir,
    )
    tfds.data_source(
        name,
        data_dir=str(data_dir),
        download=True,
        builder_kwargs={"file_format": "array_record"},
    )
    prepared = find_prepared(data_dir, name)
    if prepared is None:
        raise FileNotFoundError(
            f"tensorflow-datasets reported success but no prepared copy of {name} "
            f"was found under {data_dir}."
        )
    return prepared
