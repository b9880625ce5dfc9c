"""Meta-learn per-parameter L2 strengths of image classifiers with CML, T1-T2,
conjugate gradients and recurrent backpropagation.

Run from the repository root:

    python -m benchmarks.supervised                  # CPU default: digits, minutes
    python -m benchmarks.supervised --full --dataset mnist --data-dir DIR   # GPU

Interrupt at any time and rerun the same command to resume.
"""

import argparse
import dataclasses
import logging
import os
import platform
import sys
import time
from pathlib import Path

logger = logging.getLogger("benchmarks.supervised")

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "runs" / "supervised"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.supervised",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="run at the published scale (MNIST 5x256 tanh MLP or CIFAR-10 LeNet-5, "
        "500 search samples, 10 seeds); meant for a GPU",
    )
    parser.add_argument(
        "--dataset",
        choices=("digits", "mnist", "cifar10"),
        help="data set (default: digits, or mnist with --full)",
    )
    parser.add_argument("--config", type=Path, help="JSON file with `Config` fields")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder with the MNIST or CIFAR-10 copy (default: $EQCML_DATA_DIR, "
        "then ~/tensorflow_datasets)",
    )
    parser.add_argument(
        "--out",
        "--output",
        dest="output",
        type=Path,
        help=f"output folder (default: {DEFAULT_OUTPUT}/<dataset>[-full])",
    )
    parser.add_argument(
        "--search",
        choices=("ray", "local"),
        default="ray",
        help="run the hyperparameter search on Ray Tune (default) or in this process",
    )
    parser.add_argument(
        "--ray-address",
        help="address of a Ray cluster to search on (default: a local instance "
        "with this machine's CPUs)",
    )
    parser.add_argument("--num-samples", type=int, help="search samples per method")
    parser.add_argument(
        "--seeds", type=int, help="number of seeds of the final runs (0, 1, ...)"
    )
    parser.add_argument(
        "--skip-table", action="store_true", help="skip the accuracy table"
    )
    parser.add_argument(
        "--skip-sweep", action="store_true", help="skip the lower-level-updates sweep"
    )
    parser.add_argument(
        "--no-compilation-cache",
        action="store_true",
        help="do not keep JAX's persistent compilation cache in the output folder",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debug messages"
    )
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace):
    from .config import Config, cpu_config, full_config

    if args.config is not None:
        config = Config.from_file(args.config)
    elif args.full:
        config = full_config(args.dataset or "mnist")
    else:
        config = cpu_config()
        if args.dataset is not None:
            config = dataclasses.replace(config, dataset=args.dataset)
    if args.num_samples is not None:
        config = dataclasses.replace(config, num_samples=args.num_samples)
    if args.seeds is not None:
        seeds = tuple(range(args.seeds))
        config = dataclasses.replace(config, seeds=seeds, sweep_seeds=seeds)
    return config


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    config = build_config(args)
    output = args.output or DEFAULT_OUTPUT / (
        config.dataset + ("-full" if args.full else "")
    )
    cache = (
        None if args.no_compilation_cache else (output / "work" / "jax_cache").resolve()
    )

    import jax

    if cache is not None:
        jax.config.update("jax_compilation_cache_dir", str(cache))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 1.0)

    from .experiment import Runner
    from .report import write_report

    logger.info("Configuration: %s", config)
    logger.info("Output folder: %s", output)
    start = time.monotonic()
    runner = Runner(
        config,
        output,
        search=args.search,
        ray_address=args.ray_address,
        data_dir=args.data_dir,
        compilation_cache=cache,
        progress=not args.no_progress,
    )
    outcome = runner.run(table=not args.skip_table, sweep=not args.skip_sweep)
    extra = {
        "wall_time_s": time.monotonic() - start,
        "search_backend": args.search,
        "command": " ".join(
            [
                os.path.basename(sys.executable),
                "-m",
                "benchmarks.supervised",
                *(argv or sys.argv[1:]),
            ]
        ),
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "devices": [str(d) for d in jax.devices()],
            "jax": jax.__version__,
        },
    }
    summary = write_report(config, outcome, output, extra)
    logger.info(
        "Wrote %s (%.1f s in this invocation)",
        output / "results.md",
        extra["wall_time_s"],
    )
    print((output / "results.md").read_text())
    del summary
    return 0


if __name__ == "__main__":
    sys.exit(main())
