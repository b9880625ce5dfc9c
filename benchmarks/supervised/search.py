"""Random hyperparameter search, on Ray Tune or in this process.

Both backends try the same `num_samples` random configurations of a space: a dict
whose list values are the choices and whose other values are fixed. Each
configuration is meta-trained with the search seed, and the configurations are
ranked by their final validation (eval set) accuracy, with the lower final
evaluation loss breaking ties. The test split is never used to choose.

The Ray Tune backend schedules trials with asynchronous HyperBand, which stops
trials whose validation accuracy lags at a rung. It runs on a local Ray instance
with one CPU per trial by default, or on a cluster given by its address. The
in-process backend runs every trial to the end and needs no Ray.
"""

import logging
import math
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config
from .training import meta_train, RunSpec

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]


def sample_configurations(
    space: dict[str, Any], num_samples: int, seed: int
) -> list[dict[str, Any]]:
    """Draw `num_samples` configurations uniformly from the choices of `space`.

    Each hyperparameter has its own random stream, seeded by `seed` and its name.
    The searches of different methods therefore draw the same values of the
    hyperparameters they share (common random numbers), so with few samples no
    method is favoured by luckier draws of the learning rates.
    """
    sample_values = {}
    for name in sorted(space):
        value = space[name]
        if isinstance(value, list):
            stream = np.random.default_rng([seed, zlib.crc32(name.encode())])
            sample_values[name] = [
                value[int(i)] for i in stream.integers(len(value), size=num_samples)
            ]
        else:
            sample_values[name] = [value] * num_samples
    return [
        {name: values[i] for name, values in sample_values.items()}
        for i in range(num_samples)
    ]


def _score(trial: dict[str, Any]) -> tuple[float, float]:
    accuracy = trial.get("eval_accuracy", float("nan"))
    loss = trial.get("eval_loss", float("nan"))
    accuracy = -math.inf if not math.isfinite(accuracy) else accuracy
    loss = math.inf if not math.isfinite(loss) else loss
    return (accuracy, -loss)


def best_trial(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the trial with the highest final validation accuracy (lowest loss on
    ties). Trials stopped early by the scheduler rank below every finished trial."""
    if not trials:
        raise ValueError("The search produced no trials.")
    finished = [t for t in trials if t.get("finished")] or trials
    return max(finished, key=_score)


def _trial_summary(hyperparameters, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "hyperparameters": hyperparameters,
        "eval_accuracy": result["final"]["eval_accuracy"],
        "eval_loss": result["final"]["eval_loss"],
        "nonfinite_steps": result["nonfinite_steps"],
        "finished": True,
    }


def local_search(
    config: Config,
    method: str,
    space: dict[str, Any],
    *,
    sweep: bool,
    data_dir=None,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run the random search in this process, one trial after another."""
    trials = []
    samples = sample_configurations(space, config.num_samples, config.search_seed)
    for index, hyperparameters in enumerate(samples):
        spec = RunSpec(method, hyperparameters, config.search_seed, sweep)
        result = meta_train(config, spec, data_dir=data_dir)
        trials.append(_trial_summary(hyperparameters, result))
        if progress is not None:
            progress(f"{method} trial {index + 1}/{len(samples)}")
    return trials


def _ray_trainable(hyperparameters, *, config_json, method, sweep, data_dir):
    from ray import tune

    config = Config.from_json(config_json)
    spec = RunSpec(method, dict(hyperparameters), config.search_seed, sweep)

    def report(metrics):
        tune.report({**metrics, "finished": False})

    result = meta_train(config, spec, data_dir=data_dir, report=report)
    tune.report(
        {
            "meta_step": spec.hyperparameters["steps_outer"] + 1,
            **_trial_summary(hyperparameters, result),
        }
    )


def init_ray(address: str | None, compilation_cache: Path | None) -> None:
    """Start a local Ray instance with this machine's CPUs, or connect to the
    cluster at `address`; workers import this package and share the compilation
    cache."""
    try:
        import ray
    except ImportError as error:
        raise ImportError(
            "The Ray Tune search needs Ray: `pip install 'eqcml[bench]'` (or "
            "`pip install 'ray[tune]'`), or pass `--search local` to search in this "
            "process."
        ) from error
    if ray.is_initialized():
        return
    # The older console output honours `verbose=0`; the newer one prints a status
    # table per search.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    env_vars = {
        "PYTHONPATH": os.pathsep.join(
            [str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
        )
    }
    if compilation_cache is not None:
        env_vars["JAX_COMPILATION_CACHE_DIR"] = str(compilation_cache)
    if address is None:
        ray.init(
            num_cpus=os.cpu_count(),
            include_dashboard=False,
            runtime_env={"env_vars": env_vars},
            logging_level=logging.WARNING,
            # Trial errors come back with the results; the workers' own output
            # (including the exit of reused actors) stays in Ray's session logs.
            log_to_driver=False,
        )
    else:
        # NOTE: on a cluster the benchmark sources travel as Ray's working_dir;
        # eqcml and its dependencies must already be installed on every node.
        ray.init(
            address=address,
            runtime_env={
                "working_dir": str(REPO_ROOT),
                "excludes": [".git", "runs", "*.eqx"],
            },
            logging_level=logging.WARNING,
        )


def ray_search(
    config: Config,
    method: str,
    space: dict[str, Any],
    *,
    sweep: bool,
    name: str,
    storage: Path,
    data_dir=None,
) -> list[dict[str, Any]]:
    """Run the random search on Ray Tune with asynchronous HyperBand scheduling.

    Call [`init_ray`][] first.
    """
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    param_space = {
        k: tune.choice(v) if isinstance(v, list) else v for k, v in space.items()
    }
    # Ray evaluates these samples of the space, so both backends try the same ones.
    samples = sample_configurations(space, config.num_samples, config.search_seed)
    steps = space["steps_outer"]
    reports = math.ceil(steps / config.report_every) + 1
    scheduler = ASHAScheduler(
        time_attr="training_iteration",
        max_t=reports,
        grace_period=min(config.grace_period, reports),
    )
    trainable = tune.with_resources(
        tune.with_parameters(
            _ray_trainable,
            config_json=config.to_json(),
            method=method,
            sweep=sweep,
            data_dir=None if data_dir is None else str(data_dir),
        ),
        {"cpu": 1},
    )
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric="eval_accuracy",
            mode="max",
            num_samples=len(samples),
            scheduler=scheduler,
            search_alg=BasicVariantGenerator(
                points_to_evaluate=samples, random_state=config.search_seed
            ),
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=name, storage_path=str(Path(storage).resolve()), verbose=0
        ),
    )
    grid = tuner.fit()
    trials, errors = [], []
    for result in grid:
        if result.error is not None:
            logger.error("Trial %s of %s failed: %s", result.path, method, result.error)
            errors.append(result.error)
            continue
        metrics = result.metrics or {}
        trials.append(
            {
                "hyperparameters": {k: result.config[k] for k in space},
                "eval_accuracy": metrics.get("eval_accuracy", float("nan")),
                "eval_loss": metrics.get("eval_loss", float("nan")),
                "nonfinite_steps": metrics.get("nonfinite_steps"),
                "finished": bool(metrics.get("finished", False)),
            }
        )
    if not trials and errors:
        raise RuntimeError(
            f"Every trial of the {method} search failed; the first error follows. "
            f"Ray's trial logs are under {storage}."
        ) from errors[0]
    return trials
