"""Smoke runs of the benchmark scripts at tiny sizes: they must run end to end and
write their results, so that a full run is not the first time they execute."""

import importlib.util
import json
import pathlib
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name: str):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCHMARKS))
    return module


def test_overhead_smoke(tmp_path):
    results = _load("overhead").main(
        ["--free-steps", "20", "--nudged-steps", "10", "--repeats", "2", "--out", str(tmp_path)]
    )
    assert results["relative_difference"] < 1e-12
    assert results["ratio"] > 0
    assert json.loads((tmp_path / "results.json").read_text())["ratio"] == results["ratio"]


def test_table_s1_memory_smoke(tmp_path):
    pytest.importorskip("matplotlib")
    _load("table_s1_memory").main(
        ["--steps", "5", "10", "--second-steps", "5", "--truncation", "2", "--width", "4",
         "--repeats", "1", "--out", str(tmp_path)]
    )
    written = {p.suffix for p in tmp_path.iterdir()}
    assert ".json" in written
    assert ".png" in written
