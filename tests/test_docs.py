"""The code blocks of the guide run, in order, as one script."""

import pathlib
import re

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
