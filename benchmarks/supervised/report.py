"""Summaries of the experiments: JSON, a markdown table and PNG plots."""

import math
from pathlib import Path
from typing import Any

import numpy as np

from eqcml.internal import save_figure, write_json, write_text

from .config import Config, METHOD_LABELS, METHODS
from .experiment import TABLE


def mean_and_sem(values: list[float]) -> dict[str, Any]:
    """Mean and standard error of the mean (sample standard deviation over
    sqrt(n); zero for a single value)."""
    array = np.asarray(values, dtype=float)
    sem = float(array.std(ddof=1) / math.sqrt(len(array))) if len(array) > 1 else 0.0
    return {"mean": float(array.mean()), "sem": sem, "n": len(array), "values": values}


def _summarise_runs(entry: dict[str, Any]) -> dict[str, Any]:
    runs = entry["runs"]
    return {
        "hyperparameters": entry["hyperparameters"],
        "eval_accuracy": mean_and_sem([r["final"]["eval_accuracy"] for r in runs]),
        "test_accuracy": mean_and_sem([r["final"]["test_accuracy"] for r in runs]),
        "nonfinite_steps": sum(r["nonfinite_steps"] for r in runs),
        "run_time_s": sum(r["wall_time_s"] for r in runs),
    }


def summarise(config: Config, outcome: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The JSON summary: the table's statistics per method, and the sweep's per
    method and number of lower-level updates."""
    summary: dict[str, Any] = {"config": config.to_json()}
    if TABLE in outcome:
        summary["table"] = {m: _summarise_runs(outcome[TABLE][m]) for m in METHODS}
    sweep = {}
    for experiment, methods in outcome.items():
        if experiment == TABLE:
            continue
        updates = int(experiment.split("-", 1)[1])
        for method in METHODS:
            sweep.setdefault(method, {})[str(updates)] = _summarise_runs(
                methods[method]
            )
    if sweep:
        summary["updates"] = sweep
    return summary


def _percent(statistics: dict[str, Any]) -> str:
    return f"{100 * statistics['mean']:.2f} ± {100 * statistics['sem']:.2f}"


def _format_hyperparameters(hyperparameters: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(hyperparameters.items()))


def markdown(summary: dict[str, Any]) -> str:
    """Format the table and the sweep as markdown."""
    config = summary["config"]
    lines = []
    if "table" in summary:
        seeds = len(config["seeds"])
        lines += [
            "Accuracy after meta-learning per-parameter L2 strengths on "
            f"{config['dataset']} "
            f"(mean ± s.e.m. over {seeds} seeds, %).",
            "",
            "| Method | Validation acc. (%) | Test acc. (%) | Skipped meta-steps |",
            "| --- | --- | --- | --- |",
        ]
        for method in METHODS:
            row = summary["table"][method]
            lines.append(
                f"| {METHOD_LABELS[method]} | {_percent(row['eval_accuracy'])} | "
                f"{_percent(row['test_accuracy'])} | {row['nonfinite_steps']} |"
            )
        lines += ["", "Best hyperparameters:", ""]
        for method in METHODS:
            hyperparameters = summary["table"][method]["hyperparameters"]
            lines.append(
                f"- {METHOD_LABELS[method]}: {_format_hyperparameters(hyperparameters)}"
            )
        lines.append("")
    if "updates" in summary:
        updates = sorted(int(u) for u in next(iter(summary["updates"].values())))
        seeds = len(config["sweep_seeds"])
        lines += [
            f"Final validation accuracy (%) against the number of lower-level updates, "
            f"{config['sweep_num_learn']} learn / {config['sweep_num_eval']} eval "
            f"examples, full batch (mean ± s.e.m. over {seeds} seeds).",
            "",
            "| Method | " + " | ".join(str(u) for u in updates) + " |",
            "| --- |" + " --- |" * len(updates),
        ]
        for method in METHODS:
            cells = [
                _percent(summary["updates"][method][str(u)]["eval_accuracy"])
                for u in updates
            ]
            lines.append(f"| {METHOD_LABELS[method]} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_sweep(summary: dict[str, Any], path: Path) -> None:
    """Final validation accuracy against lower-level updates, with ± s.e.m. bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.5))
    for method in METHODS:
        points = summary["updates"][method]
        updates = sorted(int(u) for u in points)
        means = [100 * points[str(u)]["eval_accuracy"]["mean"] for u in updates]
        sems = [100 * points[str(u)]["eval_accuracy"]["sem"] for u in updates]
        axis.errorbar(
            updates,
            means,
            yerr=sems,
            marker="o",
            capsize=3,
            label=METHOD_LABELS[method],
        )
    axis.set_xscale("log")
    axis.set_xlabel("lower-level updates")
    axis.set_ylabel("final validation accuracy (%)")
    axis.legend()
    axis.grid(alpha=0.3)
    save_figure(figure, path, dpi=120)


def plot_table_history(outcome: dict[str, dict[str, Any]], path: Path) -> None:
    """Validation accuracy at the free solution during meta-training (mean over
    seeds) for the table's runs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.5))
    for method in METHODS:
        histories = np.array(
            [r["history"]["eval_accuracy"] for r in outcome[TABLE][method]["runs"]]
        )
        steps = np.arange(histories.shape[1])
        axis.plot(
            steps, 100 * np.nanmean(histories, axis=0), label=METHOD_LABELS[method]
        )
    axis.set_xlabel("meta-step")
    axis.set_ylabel("validation accuracy (%)")
    axis.legend()
    axis.grid(alpha=0.3)
    save_figure(figure, path, dpi=120)


def write_report(
    config: Config,
    outcome: dict[str, dict[str, Any]],
    output: Path,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """Write `results.json`, `results.md` and the plots into `output`, atomically."""
    summary = {**summarise(config, outcome), **extra}
    output.mkdir(parents=True, exist_ok=True)
    write_json(output / "results.json", summary)
    write_text(output / "results.md", markdown(summary))
    if TABLE in outcome:
        plot_table_history(outcome, output / "table_history.png")
    if "updates" in summary:
        plot_sweep(summary, output / "updates_sweep.png")
    return summary
