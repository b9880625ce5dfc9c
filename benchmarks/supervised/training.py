"""Meta-training of per-parameter L2 strengths with checkpoints, and evaluation.

Each meta-step restarts the inner learning process from the same initial network,
computes a meta-gradient with the chosen estimator through `eqcml.meta_solve`, and
takes one Adam step on the log-strengths. One meta-step is one compiled
computation. Learning rates and beta enter it as traced arrays, so samples of a
search that share their step budgets reuse the compiled step.
"""

import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

import eqcml
from eqcml.internal import atomic_path, is_floating_array, tree_isfinite

from .config import Config
from .methods import build_estimator, free_solver, split_hyperparameters
from .models import build_model, evaluate, learned_l2_problem

logger = logging.getLogger(__name__)

# One Problem instance for the whole process: its loss functions are static
# arguments of the compiled steps, so a new instance would force a recompilation.
PROBLEM = learned_l2_problem()

HISTORY_KEYS = ("eval_loss", "eval_accuracy", "learn_loss", "grad_norm")


def load_splits(config: Config, seed: int, *, sweep: bool, data_dir=None):
    """Load the learn/eval/test splits of one run: the whole training split halved,
    or for the sweep a random subset of `sweep_num_learn + sweep_num_eval` examples."""
    sizes = (
        dict(num_learn=config.sweep_num_learn, num_eval=config.sweep_num_eval)
        if sweep
        else {}
    )
    dtype = np.dtype(config.dtype)
    if config.dataset == "digits":
        return eqcml.data.load_digits(seed=seed, dtype=dtype, **sizes)
    if config.dataset == "mnist":
        return eqcml.data.load_mnist(data_dir, seed=seed, dtype=dtype, **sizes)
    return eqcml.data.load_cifar10(data_dir, seed=seed, dtype=dtype, **sizes)


def _to_device(splits) -> tuple[dict[str, Any], tuple[jax.Array, jax.Array]]:
    data = {
        "learn": (jnp.asarray(splits.learn.images), jnp.asarray(splits.learn.labels)),
        "eval": (jnp.asarray(splits.eval.images), jnp.asarray(splits.eval.labels)),
    }
    test = (jnp.asarray(splits.test.images), jnp.asarray(splits.test.labels))
    return data, test


def _dynamic_arrays(dynamic: dict[str, float], dtype) -> dict[str, jax.Array]:
    return {name: jnp.asarray(value, dtype) for name, value in dynamic.items()}


@eqx.filter_jit
def _meta_step(method, static, slow, adam_state, dynamic, fast_init, data):
    static = dict(static)
    estimator = build_estimator(method, static, dynamic)
    solve = eqcml.meta_solve(PROBLEM, estimator, has_aux=True, throw=False)
    solution = solve(slow, fast_init, data)
    slow_arrays, slow_static = eqx.partition(slow, is_floating_array)
    updates, new_adam_state = optax.scale_by_adam().update(solution.grad, adam_state)
    step = jax.tree_util.tree_map(lambda u: -dynamic["lr_outer"] * u, updates)
    new_slow = eqx.combine(optax.apply_updates(slow_arrays, step), slow_static)
    # A non-finite meta-gradient leaves the meta-parameters where they are; the
    # host counts such steps and reports them with the run.
    finite = tree_isfinite(solution.grad)
    keep = lambda new, old: jax.tree_util.tree_map(  # noqa: E731
        lambda a, b: jnp.where(finite, a, b), new, old
    )
    metrics = {
        "eval_loss": solution.value,
        "eval_accuracy": solution.aux,
        "learn_loss": solution.free.loss,
        "grad_norm": eqcml.internal.tree_norm(solution.grad),
        "finite": finite,
    }
    return keep(new_slow, slow), keep(new_adam_state, adam_state), metrics


@eqx.filter_jit
def _final_evaluation(static, dynamic, slow, fast_init, data, test):
    solver = free_solver(dict(static), dynamic)
    fast, fast_static = eqx.partition(fast_init, is_floating_array)

    def learn_loss(f):
        return PROBLEM.learn_loss(eqx.combine(f, fast_static), slow, data)[0]

    solution = solver.solve(learn_loss, fast)
    model = eqx.combine(solution.fast, fast_static)
    reference = data["learn"][0]
    learn_loss_value, learn_accuracy = evaluate(model, data["learn"], reference)
    eval_loss, eval_accuracy = evaluate(model, data["eval"], reference)
    test_loss, test_accuracy = evaluate(model, test, reference)
    return {
        "learn_loss": learn_loss_value,
        "learn_accuracy": learn_accuracy,
        "eval_loss": eval_loss,
        "eval_accuracy": eval_accuracy,
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
        "mean_log_strength": jnp.mean(
            jnp.concatenate([jnp.ravel(x) for x in jax.tree_util.tree_leaves(slow)])
        ),
    }


@dataclasses.dataclass
class RunSpec:
    """Everything that determines one meta-training run.

    **Fields:**

    - `method`: one of `config.METHODS`.
    - `hyperparameters`: one sample of the method's search space, with
        `steps_outer` meta-steps.
    - `seed`: sets the learn/eval split and the network initialisation.
    - `sweep`: use the sweep's small learn/eval subset instead of the halved
        training split.
    """

    method: str
    hyperparameters: dict[str, Any]
    seed: int
    sweep: bool = False

    def fingerprint(self, config: Config) -> str:
        """Return a short hash of the run and of the parts of `config` that change
        its result."""
        content = {
            "run": dataclasses.asdict(self),
            "config": {
                k: getattr(config, k)
                for k in ("dataset", "model", "width", "depth", "dtype")
            },
            "sweep_sizes": (config.sweep_num_learn, config.sweep_num_eval)
            if self.sweep
            else None,
        }
        encoded = json.dumps(content, sort_keys=True).encode()
        return hashlib.sha256(encoded).hexdigest()[:16]


def _initial_state(config: Config, spec: RunSpec, splits, dtype):
    model_key = jax.random.key(spec.seed)
    fast_init = build_model(
        config.model,
        splits.learn.images.shape[1:],
        splits.num_classes,
        width=config.width,
        depth=config.depth,
        key=model_key,
    )
    fast_init = jax.tree_util.tree_map(
        lambda x: x.astype(dtype) if is_floating_array(x) else x, fast_init
    )
    slow = eqcml.LearnedL2.init(fast_init, spec.hyperparameters["lambda_init"])
    slow = jax.tree_util.tree_map(lambda x: x.astype(dtype), slow)
    adam_state = optax.scale_by_adam().init(eqx.filter(slow, is_floating_array))
    steps = spec.hyperparameters["steps_outer"]
    history = {k: jnp.full((steps,), jnp.nan, dtype) for k in HISTORY_KEYS}
    state = {
        "slow": slow,
        "adam_state": adam_state,
        "step": jnp.array(0),
        "nonfinite_steps": jnp.array(0),
        "history": history,
    }
    return fast_init, state


def meta_train(
    config: Config,
    spec: RunSpec,
    *,
    data_dir=None,
    checkpoint_dir: Path | None = None,
    checkpoint_every: int | None = None,
    report: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Meta-train the L2 strengths of one run and evaluate the result.

    With `checkpoint_dir`, the meta-parameters, optimiser state and history are
    saved atomically every `checkpoint_every` meta-steps (default
    `config.report_every`) under a name fixed by the run's fingerprint, and a
    later call with the same run resumes from the last checkpoint; the checkpoint
    is removed once the run finishes. Runs are full-batch and deterministic, so a
    resumed run ends where an uninterrupted one does.

    `report`, when given, is called every `config.report_every` meta-steps with the
    current step and the evaluation accuracy and loss at the free solution; the
    hyperparameter search feeds these to its scheduler. It may raise to stop the
    run.

    **Returns:**

    A JSON-ready dict: the run, the final learn/eval/test accuracies and losses of
    a free phase run with the final strengths, the per-step history, the count of
    meta-steps skipped for a non-finite meta-gradient, and the wall time.
    """
    start = time.monotonic()
    dtype = jnp.dtype(config.dtype)
    splits = load_splits(config, spec.seed, sweep=spec.sweep, data_dir=data_dir)
    data, test = _to_device(splits)
    static, dynamic = split_hyperparameters(spec.hyperparameters)
    dynamic = _dynamic_arrays(dynamic, dtype)
    fast_init, state = _initial_state(config, spec, splits, dtype)
    steps = spec.hyperparameters["steps_outer"]
    every = checkpoint_every or config.report_every

    path = None
    if checkpoint_dir is not None:
        path = Path(checkpoint_dir) / f"{spec.method}-{spec.fingerprint(config)}.eqx"
        if path.exists():
            state = eqx.tree_deserialise_leaves(path, state)
            logger.info("Resuming %s from meta-step %d", path.name, int(state["step"]))

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=steps, initial=int(state["step"]), desc=spec.method, leave=False
        )
    step_inner = {k: v for k, v in static if k != "steps_outer"}
    static_inner = tuple(sorted(step_inner.items()))
    for step in range(int(state["step"]), steps):
        slow, adam_state, metrics = _meta_step(
            spec.method,
            static_inner,
            state["slow"],
            state["adam_state"],
            dynamic,
            fast_init,
            data,
        )
        history = {
            k: state["history"][k].at[step].set(metrics[k].astype(dtype))
            for k in HISTORY_KEYS
        }
        state = {
            "slow": slow,
            "adam_state": adam_state,
            "step": jnp.array(step + 1),
            "nonfinite_steps": state["nonfinite_steps"] + (~metrics["finite"]),
            "history": history,
        }
        if bar is not None:
            bar.update(1)
        done = step + 1
        if path is not None and (done % every == 0 or done == steps):
            with atomic_path(path) as temporary:
                eqx.tree_serialise_leaves(temporary, state)
        if report is not None and (done % config.report_every == 0 or done == steps):
            report(
                {
                    "meta_step": done,
                    "eval_accuracy": float(metrics["eval_accuracy"]),
                    "eval_loss": float(metrics["eval_loss"]),
                }
            )
    if bar is not None:
        bar.close()

    # Only the free phase's settings enter the evaluation, so methods that share
    # them share its compiled computation.
    static_free = tuple(
        (k, v) for k, v in static_inner if k in ("optimizer_inner", "steps_inner")
    )
    final = _final_evaluation(
        static_free, dynamic, state["slow"], fast_init, data, test
    )
    result = {
        "method": spec.method,
        "seed": spec.seed,
        "sweep": spec.sweep,
        "hyperparameters": spec.hyperparameters,
        "final": {k: float(v) for k, v in final.items()},
        "history": {k: np.asarray(v).tolist() for k, v in state["history"].items()},
        "nonfinite_steps": int(state["nonfinite_steps"]),
        "wall_time_s": time.monotonic() - start,
    }
    if path is not None:
        path.unlink(missing_ok=True)
    return result
