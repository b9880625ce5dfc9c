"""The supervised learned-L2 benchmark harness at tiny sizes: models, search
helpers, meta-training with checkpoints, and a resumable end-to-end run."""

import dataclasses
import json
from pathlib import Path
import sys

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import eqcml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.supervised import experiment, report, search, training  # noqa: E402
from benchmarks.supervised.config import (  # noqa: E402
    Config,
    full_config,
    METHODS,
    updates_space,
)
from benchmarks.supervised.models import build_model, learned_l2_problem, predict  # noqa: E402


def _tiny_space(method: str) -> dict:
    space = {
        "lambda_init": [1e-3],
        "lr_inner": [3e-2],
        "lr_outer": [3e-2, 1e-1],
        "optimizer_inner": ["adam"],
        "steps_inner": 5,
        "steps_outer": 3,
    }
    # The second-phase budgets are those the sweep draws at 5 updates, so the
    # sweep's trials reuse the table's compiled meta-steps.
    extra = {
        "cml": {"beta": [0.1, 1.0], "lr_nudged": [1e-2], "steps_nudged": [1, 2]},
        "cg": {"steps_cg": [1, 2]},
        "rbp": {"nsa_alpha": [1e-2], "steps_nsa": [1, 2]},
        "t1t2": {},
    }
    return {**space, **extra[method]}


# Every test uses these sizes, and the sweep's learn and eval sets have the sizes
# of the table's, so the compiled meta-steps are shared between tests.
TINY = Config(
    width=8,
    depth=1,
    seeds=(0, 1),
    num_samples=2,
    report_every=1,
    spaces={m: _tiny_space(m) for m in METHODS},
    updates=(5,),
    sweep_num_learn=750,
    sweep_num_eval=750,
    sweep_steps_outer=2,
    sweep_seeds=(0,),
)


def _sample(method: str) -> dict:
    samples = search.sample_configurations(TINY.spaces[method], 1, TINY.search_seed)
    return samples[0]


# ---------------------------------------------------------------- configuration


def test_config_json_round_trip():
    for config in (TINY, full_config("mnist"), full_config("cifar10")):
        restored = Config.from_json(json.loads(json.dumps(config.to_json())))
        assert restored == config


def test_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="Unknown configuration keys"):
        Config.from_json({"widht": 3})


def test_updates_space_budgets():
    space = updates_space(_tiny_space("cml"), 100)
    assert space["steps_inner"] == 100
    assert space["steps_nudged"] == [10, 25, 50]
    assert updates_space(_tiny_space("rbp"), 5)["steps_nsa"] == [1, 2]


def test_sample_configurations_reproducible():
    space = full_config("mnist").spaces["cml"]
    first = search.sample_configurations(space, 20, seed=3)
    second = search.sample_configurations(space, 20, seed=3)
    assert first == second
    for sample in first:
        assert sample["beta"] in space["beta"]
        assert sample["steps_inner"] == 2000
    assert len({json.dumps(s, sort_keys=True) for s in first}) > 1


def test_sample_configurations_share_common_draws():
    spaces = full_config("mnist").spaces
    cml = search.sample_configurations(spaces["cml"], 10, seed=5)
    cg = search.sample_configurations(spaces["cg"], 10, seed=5)
    for name in ("lambda_init", "lr_inner", "lr_outer", "optimizer_inner"):
        assert [s[name] for s in cml] == [s[name] for s in cg]


def test_best_trial_prefers_finished():
    trials = [
        {"eval_accuracy": 0.9, "eval_loss": 0.3, "finished": False},
        {"eval_accuracy": 0.8, "eval_loss": 0.5, "finished": True},
        {"eval_accuracy": 0.8, "eval_loss": 0.4, "finished": True},
        {"eval_accuracy": float("nan"), "eval_loss": 0.1, "finished": True},
    ]
    assert search.best_trial(trials) is trials[2]


def test_mean_and_sem():
    statistics = report.mean_and_sem([0.5, 0.7, 0.9])
    assert statistics["mean"] == pytest.approx(0.7)
    assert statistics["sem"] == pytest.approx(0.2 / np.sqrt(3))
    assert report.mean_and_sem([0.5])["sem"] == 0.0


# ---------------------------------------------------------------- models


def test_lenet_predictions_use_reference_statistics():
    model = build_model(
        "lenet5", (16, 16, 3), 10, width=0, depth=0, key=jax.random.key(0)
    )
    images = jax.random.normal(jax.random.key(1), (6, 16, 16, 3))
    reference = jax.random.normal(jax.random.key(2), (8, 16, 16, 3))
    jit_predict = eqx.filter_jit(predict)
    together = jit_predict(model, images, reference)
    alone = jit_predict(model, images[:2], reference)
    assert together.shape == (6, 10)
    np.testing.assert_allclose(alone, together[:2], rtol=1e-5, atol=1e-5)
    # Without a reference, the batch normalises itself and rows interact.
    jit_model = eqx.filter_jit(lambda m, x: m(x))
    first_rows = jit_model(model, images)[:2]
    assert not np.allclose(first_rows, jit_model(model, images[:2]), atol=1e-4)


def test_lenet_learned_l2_meta_gradient():
    key_model, key_data = jax.random.split(jax.random.key(0))
    model = build_model("lenet5", (16, 16, 1), 10, width=0, depth=0, key=key_model)
    keys = jax.random.split(key_data, 2)
    data = {
        "learn": (jax.random.normal(keys[0], (6, 16, 16, 1)), jnp.arange(6) % 10),
        "eval": (jax.random.normal(keys[1], (4, 16, 16, 1)), jnp.arange(4) % 10),
    }
    slow = eqcml.LearnedL2.init(model, 1e-2)
    solver = eqcml.OptaxSolver(optax.sgd(1e-2), 2)
    estimator = eqcml.Contrastive(0.1, solver=solver)
    grad, accuracy = eqx.filter_jit(
        eqcml.meta_grad(learned_l2_problem(), estimator, has_aux=True)
    )(slow, model, data)
    leaves = jax.tree_util.tree_leaves(grad)
    assert len(leaves) == len(jax.tree_util.tree_leaves(slow))
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in leaves)
    assert any(float(jnp.max(jnp.abs(x))) > 0 for x in leaves)
    assert 0.0 <= float(accuracy) <= 1.0


# ---------------------------------------------------------------- meta-training


@pytest.mark.parametrize("method", METHODS)
def test_meta_train_every_method(method):
    spec = training.RunSpec(method, _sample(method), seed=0)
    result = training.meta_train(TINY, spec)
    final = result["final"]
    for name in ("learn_accuracy", "eval_accuracy", "test_accuracy"):
        assert 0.0 <= final[name] <= 1.0
    assert final["eval_accuracy"] > 0.2  # ten classes: chance is about 0.1
    assert np.isfinite(final["eval_loss"])
    assert len(result["history"]["eval_accuracy"]) == 3
    assert np.all(np.isfinite(result["history"]["grad_norm"]))
    assert result["nonfinite_steps"] == 0


def test_meta_train_changes_strengths():
    spec = training.RunSpec("cml", _sample("cml"), seed=0)
    result = training.meta_train(TINY, spec)
    assert result["final"]["mean_log_strength"] != pytest.approx(np.log(1e-3), abs=1e-6)


def test_meta_train_resumes_after_interrupt(tmp_path):
    spec = training.RunSpec("t1t2", _sample("t1t2"), seed=1)
    reference = training.meta_train(TINY, spec)

    def interrupt(metrics):
        if metrics["meta_step"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        training.meta_train(TINY, spec, checkpoint_dir=tmp_path, report=interrupt)
    checkpoints = list(tmp_path.glob("t1t2-*.eqx"))
    assert len(checkpoints) == 1

    steps = []
    resumed = training.meta_train(
        TINY,
        spec,
        checkpoint_dir=tmp_path,
        report=lambda m: steps.append(m["meta_step"]),
    )
    assert steps == [3]  # steps 1 and 2 came from the checkpoint
    assert resumed["final"] == reference["final"]
    assert resumed["history"] == reference["history"]
    assert not list(tmp_path.glob("*.eqx"))


def test_run_fingerprint_changes_with_run():
    spec = training.RunSpec("cml", _sample("cml"), seed=0)
    other_seed = dataclasses.replace(spec, seed=1)
    other_model = dataclasses.replace(TINY, width=9)
    assert spec.fingerprint(TINY) != other_seed.fingerprint(TINY)
    assert spec.fingerprint(TINY) != spec.fingerprint(other_model)


# ---------------------------------------------------------------- end to end


def test_runner_end_to_end_and_resume(tmp_path, monkeypatch):
    calls = []
    real_meta_train = training.meta_train

    def counting_meta_train(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 3:
            # Calls 1 and 2 are T1-T2's search trials; call 3 is its first seeded run.
            raise KeyboardInterrupt
        return real_meta_train(*args, **kwargs)

    monkeypatch.setattr(experiment, "meta_train", counting_meta_train)
    monkeypatch.setattr(search, "meta_train", counting_meta_train)
    runner = experiment.Runner(TINY, tmp_path, search="local", progress=False)
    with pytest.raises(KeyboardInterrupt):
        runner.run(sweep=False)
    assert (
        len(list((tmp_path / "work" / "runs" / "table" / "t1t2").glob("*.json"))) == 0
    )

    calls.clear()
    monkeypatch.setattr(experiment, "meta_train", real_meta_train)
    monkeypatch.setattr(search, "meta_train", real_meta_train)
    outcome = runner.run()
    summary = report.write_report(TINY, outcome, tmp_path, {"wall_time_s": 0.0})
    assert set(summary["table"]) == set(METHODS)
    assert set(summary["updates"]["cml"]) == {"5"}
    for method in METHODS:
        assert summary["table"][method]["eval_accuracy"]["n"] == 2
    for name in (
        "results.json",
        "results.md",
        "table_history.png",
        "updates_sweep.png",
    ):
        assert (tmp_path / name).stat().st_size > 0
    assert "| CML |" in (tmp_path / "results.md").read_text()

    # A third run finds everything done and trains nothing.
    def fail(*args, **kwargs):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(experiment, "meta_train", fail)
    monkeypatch.setattr(search, "meta_train", fail)
    again = runner.run()
    assert (
        again[experiment.TABLE]["cml"]["runs"]
        == outcome[experiment.TABLE]["cml"]["runs"]
    )


def test_runner_rejects_other_configuration(tmp_path):
    experiment.Runner(TINY, tmp_path, search="local").check_configuration()
    other = dataclasses.replace(TINY, width=9)
    with pytest.raises(ValueError, match="another configuration"):
        experiment.Runner(other, tmp_path, search="local").check_configuration()


def test_ray_missing_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match="--search local"):
        search.init_ray(None, None)
