"""End-to-end test of `python -m theory --quick`: the figures, their data, the JSON
summary and a report with a verdict for every claim."""

import csv
import json
import os
import pathlib
import subprocess
import sys

import pytest

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
FIGURES = ("S1", "S2", "S3", "S4")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("theory")
    environment = dict(os.environ, PYTHONPATH=str(REPOSITORY))
    completed = subprocess.run(
        [sys.executable, "-m", "theory", "--quick", "--out", str(out), "--seed", "1"],
        cwd=REPOSITORY,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return out


@pytest.mark.parametrize("name", FIGURES)
def test_figure_png_written(quick_run, name):
    png = quick_run / f"{name}.png"
    assert png.is_file()
    assert png.read_bytes()[:8] == PNG_SIGNATURE


@pytest.mark.parametrize("name", FIGURES)
def test_figure_data_written(quick_run, name):
    with (quick_run / f"{name}.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows, f"{name}.csv has no rows"
    assert set(rows[0]) == {"panel", "series", "x_name", "x", "y_name", "y"}
    assert {row["panel"] for row in rows} >= {"A", "B"}


def test_no_temporary_files_left(quick_run):
    leftovers = [p.name for p in quick_run.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_claims_json_has_verdicts(quick_run):
    summary = json.loads((quick_run / "claims.json").read_text())
    assert summary["quick"] is True
    assert summary["seed"] == 1
    assert [figure["name"] for figure in summary["figures"]] == list(FIGURES)
    for figure in summary["figures"]:
        assert figure["claims"], f"figure {figure['name']} checks no claim"
        for claim in figure["claims"]:
            assert isinstance(claim["holds"], bool)
            assert claim["measured"]


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def test_report_has_verdict_per_claim(quick_run):
    report = (quick_run / "REPORT.md").read_text()
    lines = report.splitlines()
    summary = json.loads((quick_run / "claims.json").read_text())
    for figure in summary["figures"]:
        assert any(line.startswith(f"## Figure {figure['name']}: ") for line in lines)
        assert f"![Figure {figure['name']}]({figure['name']}.png)" in lines
        for claim in figure["claims"]:
            verdict = "holds" if claim["holds"] else "does not hold"
            row = f"| {_escape(claim['statement'])} | {_escape(claim['measured'])} | **{verdict}** |"
            assert row in lines, f"no report row for {claim['statement']!r}"


def test_bound_claims_hold_in_quick_mode(quick_run):
    # Figures S1 and S2 only evaluate closed-form bounds, so their claims must hold
    # even on the coarse quick grids.
    summary = json.loads((quick_run / "claims.json").read_text())
    for figure in summary["figures"][:2]:
        for claim in figure["claims"]:
            assert claim["holds"], f"{figure['name']}: {claim['statement']}: {claim['measured']}"
