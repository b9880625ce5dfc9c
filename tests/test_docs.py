"""The code blocks of the guide run, in order, as one script."""

import pathlib
import re

import equinox as eqx
import jax
import jax.numpy as jnp

import eqcml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_guide_examples_run():
    text = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) >= 5
    namespace: dict = {}
    exec(compile("\n".join(blocks), "docs/guide.md", "exec"), namespace)
    meta_grad = namespace["meta_grad"]
    assert meta_grad.log_strength is not None
    assert namespace["solution"].free.steps > 0


def test_readme_example_runs():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert len(blocks) == 1
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    slow, meta_grad = namespace["slow"], namespace["meta_grad"]
    exact = eqx.filter_jit(eqcml.exact_grad(namespace["problem"]))(
        slow, namespace["model"], namespace["data"]
    )
    flat = lambda tree: jnp.concatenate([x.ravel() for x in jax.tree_util.tree_leaves(tree)])
    error = jnp.linalg.norm(flat(meta_grad) - flat(exact)) / jnp.linalg.norm(flat(exact))
    assert float(error) < 0.05
