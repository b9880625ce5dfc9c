"""Configurations and hyperparameter search spaces of the supervised learned-L2
experiments.

The published searches drew 500 random samples per method from these grids and
scheduled them with asynchronous HyperBand, with a grace period of 10 reports.
Source: Zucchet, Schug, von Oswald, Zhao and Sacramento, "A contrastive rule for
meta-learning", NeurIPS 2022, supplementary tables for MNIST and CIFAR-10. Those
tables survive only in a damaged text extraction. The grids below are a
reconstruction, and the docstrings say which choices the extraction left open.

Hyperparameter names follow the tables: `lambda_init` is the initial L2 strength
of every parameter, `lr_inner`/`lr_nudged`/`lr_outer` are the learning rates of the
free phase, the nudged phase and the meta-optimiser (Adam), `steps_*` are step
budgets, `beta` is the contrastive nudging strength, `steps_cg` the conjugate
gradient budget and `nsa_alpha`/`steps_nsa` the step size and length of the
Neumann series of recurrent backpropagation.
"""

import dataclasses
import json
from typing import Any

METHODS = ("t1t2", "cg", "rbp", "cml")
METHOD_LABELS = {"t1t2": "T1-T2", "cg": "CG", "rbp": "RBP", "cml": "CML"}

_LEARNING_RATES = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
_STRENGTHS = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
_BETAS = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
_INNER_OPTIMIZERS = ["adam", "sgd_nesterov_0.9"]


def _common(steps_inner, steps_outer) -> dict[str, Any]:
    return {
        "lambda_init": _STRENGTHS,
        "lr_inner": _LEARNING_RATES,
        "lr_outer": _LEARNING_RATES,
        "optimizer_inner": _INNER_OPTIMIZERS,
        "steps_inner": steps_inner,
        "steps_outer": steps_outer,
    }


def mnist_spaces() -> dict[str, dict[str, Any]]:
    """Return the MNIST search spaces (2,000 inner steps, 100 meta-steps)."""
    common = _common(2000, 100)
    return {
        "cml": {
            **common,
            "beta": _BETAS,
            "lr_nudged": _LEARNING_RATES,
            "steps_nudged": [100, 200, 500],
        },
        "cg": {**common, "steps_cg": [100, 250, 500, 1000, 2000]},
        "rbp": {
            **common,
            "nsa_alpha": [1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3],
            "steps_nsa": 200,
        },
        "t1t2": dict(common),
    }


def cifar10_spaces() -> dict[str, dict[str, Any]]:
    """Return the CIFAR-10 search spaces.

    The extraction lists inner budgets of {2000, 3000, 5000} steps and nudged
    budgets of {100, 200, 500}; CG's budget grid reads {100, 500, 1000, 2000}; the
    recurrent-backpropagation rows list a smaller step-size grid and smaller outer
    learning rates. The number of meta-steps is not legible and is set to 100, as
    for MNIST.
    """
    common = _common([2000, 3000, 5000], 100)
    return {
        "cml": {
            **common,
            "beta": _BETAS,
            "lr_nudged": _LEARNING_RATES,
            "steps_nudged": [100, 200, 500],
        },
        "cg": {**common, "steps_cg": [100, 500, 1000, 2000]},
        "rbp": {
            **common,
            "lr_outer": [1e-5, 3e-5, 1e-4, 3e-4],
            "nsa_alpha": [1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4],
            "steps_nsa": 200,
        },
        "t1t2": dict(common),
    }


def digits_spaces() -> dict[str, dict[str, Any]]:
    """Return the CPU search spaces for the 1,500 training digits.

    A search of a few samples over the published grids mostly draws settings that
    leave the network untrained (learning rates of 1e-4 with 200 steps, say) or the
    strengths unchanged. These grids keep the published values that train a 2x32
    MLP on digits within 10 to 200 Adam steps and move the strengths within 30
    meta-steps, and cut the step budgets by about ten. The Neumann step sizes are
    moved up, because the smaller network's learning-loss Hessian has a smaller
    largest eigenvalue.
    """
    common = {
        "lambda_init": [1e-4, 1e-3, 1e-2],
        "lr_inner": [1e-2, 3e-2],
        "lr_outer": [3e-2, 1e-1],
        "optimizer_inner": ["adam"],
        "steps_inner": 200,
        "steps_outer": 30,
    }
    return {
        "cml": {
            **common,
            "beta": [0.1, 0.3, 1.0],
            "lr_nudged": [1e-3, 3e-3, 1e-2],
            "steps_nudged": [20, 50],
        },
        "cg": {**common, "steps_cg": [10, 25, 50]},
        "rbp": {**common, "nsa_alpha": [1e-3, 3e-3, 1e-2, 3e-2], "steps_nsa": 20},
        "t1t2": dict(common),
    }


def updates_space(space: dict[str, Any], updates: int) -> dict[str, Any]:
    """Return the search space of one point of the lower-level-updates sweep.

    The free phase gets exactly `updates` steps. Second-phase budgets are searched
    relative to it: CML's nudged phase over {10%, 25%, 50%} of `updates` steps (at
    least one), CG's and the Neumann series' over the same fractions.
    """
    fractions = (0.1, 0.25, 0.5)
    budgets = sorted({max(1, round(f * updates)) for f in fractions})
    space = {**space, "steps_inner": updates}
    for name in ("steps_nudged", "steps_cg", "steps_nsa"):
        if name in space:
            space[name] = budgets
    return space


@dataclasses.dataclass(frozen=True)
class Config:
    """One configuration of the experiments.

    **Fields:**

    - `dataset`: "digits", "mnist" or "cifar10".
    - `model`: "mlp" (tanh) or "lenet5" (batch norm and ReLU).
    - `width`, `depth`: hidden width and number of hidden layers of the MLP.
    - `seeds`: the seeds of the final runs; each seed sets the learn/eval split and
        the network initialisation.
    - `num_samples`: random configurations tried per method (and per point of the
        sweep) in the search.
    - `search_seed`: the seed of the search's learn/eval split, initialisation and
        sampling; kept apart from `seeds`.
    - `grace_period`: asynchronous HyperBand stops no trial before this many reports.
    - `report_every`: meta-steps between validation reports and checkpoints.
    - `spaces`: the search space of each method.
    - `updates`: the numbers of lower-level updates of the sweep.
    - `sweep_num_learn`, `sweep_num_eval`: the sizes of the sweep's learn and eval
        sets, drawn from the training split.
    - `sweep_steps_outer`: meta-steps of each sweep run.
    - `sweep_seeds`: the seeds of the sweep's final runs.
    - `dtype`: "float32" or "float64".
    """

    dataset: str = "digits"
    model: str = "mlp"
    width: int = 32
    depth: int = 2
    seeds: tuple[int, ...] = (0, 1, 2)
    num_samples: int = 6
    search_seed: int = 1000
    grace_period: int = 2
    report_every: int = 5
    spaces: dict[str, dict[str, Any]] = dataclasses.field(default_factory=digits_spaces)
    updates: tuple[int, ...] = (10, 30, 100)
    sweep_num_learn: int = 50
    sweep_num_eval: int = 950
    sweep_steps_outer: int = 20
    sweep_seeds: tuple[int, ...] = (0, 1, 2)
    dtype: str = "float32"

    def __post_init__(self):
        if self.dataset not in ("digits", "mnist", "cifar10"):
            raise ValueError(f"Unknown dataset {self.dataset!r}.")
        if self.model not in ("mlp", "lenet5"):
            raise ValueError(f"Unknown model {self.model!r}.")
        unknown = set(self.spaces) - set(METHODS)
        if unknown:
            raise ValueError(f"Unknown methods {sorted(unknown)}; expected {METHODS}.")

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Config":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError(f"Unknown configuration keys {sorted(unknown)}.")
        data = dict(data)
        for name in ("seeds", "updates", "sweep_seeds"):
            if name in data:
                data[name] = tuple(data[name])
        return cls(**data)

    @classmethod
    def from_file(cls, path) -> "Config":
        with open(path) as f:
            return cls.from_json(json.load(f))


def cpu_config() -> Config:
    """Return the default configuration: scikit-learn's digits, a 2x32 tanh MLP, a
    small search, three seeds. Finishes in minutes on a 2-core CPU."""
    return Config()


def full_config(dataset: str) -> Config:
    """Return the published scale: a 5x256 tanh MLP on MNIST or LeNet-5 on CIFAR-10, 500
    search samples per method, 10 seeds, for a GPU."""
    if dataset == "mnist":
        model, spaces = "mlp", mnist_spaces()
    elif dataset == "cifar10":
        model, spaces = "lenet5", cifar10_spaces()
    else:
        raise ValueError(f"`--full` runs mnist or cifar10, got {dataset!r}.")
    return Config(
        dataset=dataset,
        model=model,
        width=256,
        depth=5,
        seeds=tuple(range(10)),
        num_samples=500,
        grace_period=10,
        report_every=1,
        spaces=spaces,
        updates=(10, 30, 100, 300, 1000),
        sweep_steps_outer=100,
        sweep_seeds=tuple(range(10)),
    )
