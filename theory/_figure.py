"""Containers shared by the figure modules: curves, panels, claims, and the code that
draws a figure and writes its data."""

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from eqcml.internal import save_figure, write_csv


@dataclasses.dataclass(frozen=True)
class Panel:
    """Axis labels and scales of one panel; `key` is its letter (A, B, C)."""

    key: str
    title: str
    xlabel: str
    ylabel: str
    xscale: str = "log"
    yscale: str = "log"


@dataclasses.dataclass(frozen=True)
class Curve:
    """One plotted series: `x`, `y` and the matplotlib keyword arguments `style`.

    Points where `y` is not finite (a phase that diverged) are left out of the plot
    and written as `nan` in the data file. `legend` is `True` to label the curve with
    `series` in the legend, `False` to leave it out, or a string to use as its label.
    """

    panel: str
    series: str
    x_name: str
    x: np.ndarray
    y_name: str
    y: np.ndarray
    style: dict[str, Any] = dataclasses.field(default_factory=dict)
    legend: bool | str = True


@dataclasses.dataclass(frozen=True)
class Claim:
    """A statement checked against a measured quantity.

    `measured` is the sentence printed in the report, `holds` the verdict, and
    `values` the raw numbers behind both, for the JSON summary.
    """

    figure: str
    statement: str
    measured: str
    holds: bool
    values: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class FigureResult:
    """Everything the report needs about one regenerated figure."""

    name: str
    title: str
    description: str
    png: Path
    data: Path
    claims: list[Claim]
    settings: dict[str, Any]
    seconds: float = 0.0


def write_figure(
    name: str,
    panels: Sequence[Panel],
    curves: Sequence[Curve],
    out: Path,
    *,
    suptitle: str,
) -> tuple[Path, Path]:
    """Draw the panels side by side into `out/<name>.png` and write every curve to
    `out/<name>.csv` in long format (one row per point).

    **Returns:**

    The paths of the PNG and the CSV file.
    """
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.9))
    axes = np.atleast_1d(axes)
    for ax, panel in zip(axes, panels, strict=True):
        for curve in curves:
            if curve.panel != panel.key:
                continue
            finite = np.isfinite(curve.y) & np.isfinite(curve.x)
            if isinstance(curve.legend, str):
                label = curve.legend
            else:
                label = curve.series if curve.legend else None
            ax.plot(curve.x[finite], curve.y[finite], label=label, **curve.style)
        ax.set_xscale(panel.xscale)
        ax.set_yscale(panel.yscale)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        ax.set_title(f"({panel.key}) {panel.title}", fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    figure.suptitle(suptitle, fontsize=11)
    figure.tight_layout()
    png = out / f"{name}.png"
    save_figure(figure, png)

    # Twelve significant digits keep the files small and are far more than the
    # measured errors resolve.
    rows = []
    for curve in curves:
        for x, y in zip(curve.x, curve.y, strict=True):
            rows.append((curve.panel, curve.series, curve.x_name, f"{x:.12g}", curve.y_name, f"{y:.12g}"))
    data = out / f"{name}.csv"
    write_csv(data, ("panel", "series", "x_name", "x", "y_name", "y"), rows)
    return png, data


def loglog_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares line through `(log x, log y)`: its slope and intercept."""
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(intercept)


def argmin_profile(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Locate the minimum of a sampled curve and measure how far both ends rise above it.

    **Returns:**

    A dictionary with `argmin`, `min`, `interior` (whether the minimiser is neither
    the first nor the last finite point), and `left_ratio`, `right_ratio`: the value
    at the first and last finite point divided by the minimum.
    """
    finite = np.flatnonzero(np.isfinite(y))
    xs, ys = x[finite], y[finite]
    index = int(np.argmin(ys))
    return {
        "argmin": float(xs[index]),
        "min": float(ys[index]),
        "interior": bool(0 < index < len(ys) - 1),
        "left_ratio": float(ys[0] / ys[index]),
        "right_ratio": float(ys[-1] / ys[index]),
    }


def plateau_width(x: np.ndarray, y: np.ndarray, threshold: float) -> float:
    """Measure the width in `x` of the contiguous run of points around the minimum of
    `y` whose value is at most `threshold`. The width is zero when the minimum
    itself exceeds the threshold."""
    index = int(np.nanargmin(y))
    inside = np.isfinite(y) & (y <= threshold)
    if not inside[index]:
        return 0.0
    low = high = index
    while low > 0 and inside[low - 1]:
        low -= 1
    while high < len(y) - 1 and inside[high + 1]:
        high += 1
    return float(x[high] - x[low])


def fmt(value: float) -> str:
    """Format a number with three significant digits."""
    return f"{value:.3g}"


def fmt_list(values: Sequence[float]) -> str:
    """Format numbers as a comma-separated list with three significant digits."""
    return ", ".join(fmt(v) for v in values)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Options shared by every figure: output folder, seed, and quick mode (smaller
    grids and budgets, for smoke tests)."""

    out: Path
    seed: int = 0
    quick: bool = False
