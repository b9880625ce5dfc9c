"""Supervised meta-optimisation experiments: learned per-parameter L2 strengths of
image classifiers, compared across meta-gradient methods. Run with
`python -m benchmarks.supervised`; see `benchmarks/README.md`."""
