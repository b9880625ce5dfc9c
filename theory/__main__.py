"""Command line: `python -m theory [--quick] [--out DIR] [--report FILE] [--seed N]`.

Regenerates Figures S1 to S4 as PNG files with their data as CSV, a JSON summary of
every claim (`claims.json`), and a Markdown report.
"""

import argparse
import dataclasses
import importlib.metadata
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import jax

# The sweeps compare errors down to 1e-10, which needs float64. Enable it before
# eqcml is imported, so no constant is created in float32.
jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

from eqcml.internal import write_json, write_text  # noqa: E402

from . import _report, fig_s1, fig_s2, fig_s3, fig_s4  # noqa: E402
from ._figure import FigureResult, RunConfig  # noqa: E402

logger = logging.getLogger("theory")

FIGURES = {"S1": fig_s1, "S2": fig_s2, "S3": fig_s3, "S4": fig_s4}
PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = PACKAGE_DIR / "figures"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m theory",
        description="Regenerate the figures that verify the theory of the contrastive "
        "meta-learning rule, and a report of the measured claims.",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT,
        help="folder for the PNG, CSV and JSON files (default: theory/figures)",
    )
    parser.add_argument(
        "--report", type=Path, default=None,
        help="path of the Markdown report (default: theory/REPORT.md, or OUT/REPORT.md "
        "when --out is given)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the model, data split and network initialisation (default: 0)")
    parser.add_argument("--quick", action="store_true", help="coarse grids and small budgets, for a smoke test")
    parser.add_argument(
        "--figures", nargs="+", choices=sorted(FIGURES), default=sorted(FIGURES),
        help="figures to regenerate (default: all)",
    )
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="logging level (default: INFO)")
    args = parser.parse_args(argv)
    if args.report is None:
        default_out = args.out.resolve() == DEFAULT_OUT
        args.report = PACKAGE_DIR / "REPORT.md" if default_out else args.out / "REPORT.md"
    return args


def _plain(value):
    """Convert NumPy values inside dicts, lists and tuples to Python numbers and
    lists, so that `json` can write them."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the selected figures and write the report; return the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    config = RunConfig(out=args.out.resolve(), seed=args.seed, quick=args.quick)
    logger.info("writing figures to %s (seed %d, quick %s)", config.out, config.seed, config.quick)

    start = time.perf_counter()
    results: list[FigureResult] = []
    for name in args.figures:
        logger.info("figure %s: started", name)
        figure_start = time.perf_counter()
        result = FIGURES[name].run(config)
        result.seconds = time.perf_counter() - figure_start
        for claim in result.claims:
            logger.info("figure %s: %s: %s", name, _report.verdict(claim.holds), claim.statement)
        logger.info("figure %s: done in %.1f s", name, result.seconds)
        results.append(result)
    seconds = time.perf_counter() - start

    versions = {
        package: importlib.metadata.version(package) for package in ("eqcml", "jax", "equinox", "optax")
    }
    report = _report.render(
        results, args.report.resolve(), seed=config.seed, quick=config.quick, seconds=seconds, versions=versions
    )
    write_text(args.report, report)
    write_json(
        config.out / "claims.json",
        {
            "seed": config.seed,
            "quick": config.quick,
            "seconds": seconds,
            "versions": versions,
            "figures": [
                {
                    "name": r.name,
                    "seconds": r.seconds,
                    "settings": _plain(r.settings),
                    "claims": [_plain(dataclasses.asdict(c)) for c in r.claims],
                }
                for r in results
            ],
        },
    )
    held = sum(c.holds for r in results for c in r.claims)
    total = sum(len(r.claims) for r in results)
    logger.info("report written to %s: %d of %d claims hold, %.0f s in total", args.report, held, total, seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
