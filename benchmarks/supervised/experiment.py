"""The two experiments, resumable: the accuracy table and the lower-level-updates
sweep.

For each experiment and method, a hyperparameter search picks the configuration
with the best final validation accuracy, and that configuration is then run once
per seed. Every finished search and run is written to its own JSON file under
`output/work/` as soon as it completes, and runs in progress checkpoint their
meta-parameters. A second invocation with the same output folder therefore skips
what is done and resumes the rest.
"""

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .config import Config, METHODS, updates_space
from .search import best_trial, init_ray, local_search, ray_search
from eqcml.internal import write_json

from .training import load_splits, meta_train, RunSpec

logger = logging.getLogger(__name__)

TABLE = "table"


def updates_experiment(updates: int) -> str:
    return f"updates-{updates}"


def experiment_space(config: Config, experiment: str, method: str) -> dict[str, Any]:
    """Return the search space of `method` in `experiment`."""
    space = dict(config.spaces[method])
    if experiment == TABLE:
        return space
    updates = int(experiment.split("-", 1)[1])
    space = updates_space(space, updates)
    space["steps_outer"] = config.sweep_steps_outer
    return space


def _read_json(path: Path) -> Any | None:
    if not path.exists():
        return None
    with open(path) as f:
        return json.load(f)


class Runner:
    """Runs the searches and seeded runs of the experiments into `output/work/`.

    **Arguments:**

    - `config`: the [`Config`][].
    - `output`: the output folder.
    - `search`: "ray" (Ray Tune) or "local" (in this process).
    - `ray_address`: the address of a Ray cluster; `None` starts a local instance.
    - `data_dir`: the folder of the MNIST or CIFAR-10 copy.
    - `compilation_cache`: a folder for JAX's persistent compilation cache, shared
        with the Ray workers; `None` disables it.
    - `progress`: show progress bars.
    """

    def __init__(
        self,
        config: Config,
        output: Path,
        *,
        search: str = "ray",
        ray_address: str | None = None,
        data_dir=None,
        compilation_cache: Path | None = None,
        progress: bool = True,
    ):
        if search not in ("ray", "local"):
            raise ValueError(f"`search` must be 'ray' or 'local', got {search!r}.")
        self.config = config
        self.output = Path(output)
        self.work = self.output / "work"
        self.search = search
        self.ray_address = ray_address
        self.data_dir = data_dir
        self.compilation_cache = compilation_cache
        self.progress = progress
        self._ray_ready = False

    def check_configuration(self) -> None:
        """Record the configuration in `work/config.json`, or raise a `ValueError`
        if the folder already contains results of another configuration."""
        path = self.work / "config.json"
        stored = _read_json(path)
        current = json.loads(json.dumps(self.config.to_json()))
        if stored is not None and stored != current:
            raise ValueError(
                f"{self.output} already contains results of another configuration "
                f"({path}); pass another --output or delete that folder."
            )
        write_json(path, current)

    def experiments(self, *, table: bool = True, sweep: bool = True) -> list[str]:
        names = [TABLE] if table else []
        if sweep:
            names += [updates_experiment(u) for u in self.config.updates]
        return names

    def search_path(self, experiment: str, method: str) -> Path:
        return self.work / "search" / experiment / f"{method}.json"

    def run_path(self, experiment: str, method: str, seed: int) -> Path:
        return self.work / "runs" / experiment / method / f"seed{seed}.json"

    def best_hyperparameters(self, experiment: str, method: str) -> dict[str, Any]:
        """Search `method` in `experiment`, or read the stored search."""
        path = self.search_path(experiment, method)
        stored = _read_json(path)
        if stored is not None:
            logger.info(
                "Search %s/%s already done; reading %s", experiment, method, path
            )
            return stored["best"]["hyperparameters"]
        # NOTE: a search is recorded only when all its trials finish, so an
        # interrupted search starts again from its first trial.
        space = experiment_space(self.config, experiment, method)
        sweep = experiment != TABLE
        start = time.monotonic()
        logger.info(
            "Searching %s/%s: %d samples on %s",
            experiment,
            method,
            self.config.num_samples,
            self.search,
        )
        if self.search == "ray":
            if not self._ray_ready:
                init_ray(self.ray_address, self.compilation_cache)
                self._ray_ready = True
            trials = ray_search(
                self.config,
                method,
                space,
                sweep=sweep,
                name=f"{experiment}-{method}",
                storage=self.work / "ray",
                data_dir=self.data_dir,
            )
        else:
            trials = local_search(
                self.config, method, space, sweep=sweep, data_dir=self.data_dir
            )
        best = best_trial(trials)
        record = {
            "experiment": experiment,
            "method": method,
            "space": space,
            "backend": self.search,
            "trials": trials,
            "best": best,
            "wall_time_s": time.monotonic() - start,
        }
        write_json(path, record)
        logger.info(
            "Best %s/%s: validation accuracy %.4f with %s",
            experiment,
            method,
            best["eval_accuracy"],
            best["hyperparameters"],
        )
        return best["hyperparameters"]

    def seeds(self, experiment: str) -> tuple[int, ...]:
        return self.config.seeds if experiment == TABLE else self.config.sweep_seeds

    def run_seeds(
        self,
        experiment: str,
        method: str,
        hyperparameters: dict[str, Any],
        on_run: Callable[[], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Run the chosen configuration once per seed, skipping finished seeds."""
        results = []
        for seed in self.seeds(experiment):
            path = self.run_path(experiment, method, seed)
            result = _read_json(path)
            if result is None:
                spec = RunSpec(method, hyperparameters, seed, experiment != TABLE)
                result = meta_train(
                    self.config,
                    spec,
                    data_dir=self.data_dir,
                    checkpoint_dir=self.work / "checkpoints",
                    progress=self.progress,
                )
                result["experiment"] = experiment
                write_json(path, result)
                logger.info(
                    "%s/%s seed %d: validation %.4f, test %.4f (%.1f s)",
                    experiment,
                    method,
                    seed,
                    result["final"]["eval_accuracy"],
                    result["final"]["test_accuracy"],
                    result["wall_time_s"],
                )
            else:
                logger.info("Run %s/%s seed %d already done", experiment, method, seed)
            results.append(result)
            if on_run is not None:
                on_run()
        return results

    def run(
        self, *, table: bool = True, sweep: bool = True
    ) -> dict[str, dict[str, Any]]:
        """Run every search and seeded run, and return
        `{experiment: {method: {"hyperparameters": ..., "runs": [...]}}}`."""
        self.check_configuration()
        # Fail here, with the loader's message, when the data set is missing,
        # rather than in every trial of the first search.
        load_splits(
            self.config, self.config.search_seed, sweep=False, data_dir=self.data_dir
        )
        if self.search == "ray":
            # Start Ray before JAX runs anything in this process, so its worker
            # processes are not forked from a multithreaded JAX runtime.
            init_ray(self.ray_address, self.compilation_cache)
            self._ray_ready = True
        experiments = self.experiments(table=table, sweep=sweep)
        total = sum(len(self.seeds(e)) for e in experiments) * len(METHODS)
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc="seeded runs")
        outcome: dict[str, dict[str, Any]] = {}
        for experiment in experiments:
            outcome[experiment] = {}
            for method in METHODS:
                hyperparameters = self.best_hyperparameters(experiment, method)
                runs = self.run_seeds(
                    experiment,
                    method,
                    hyperparameters,
                    on_run=None if bar is None else lambda: bar.update(1),
                )
                outcome[experiment][method] = {
                    "hyperparameters": hyperparameters,
                    "runs": runs,
                }
        if bar is not None:
            bar.close()
        return outcome
