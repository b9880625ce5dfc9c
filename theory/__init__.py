"""Regenerate the figures that verify the theory of the contrastive meta-learning
rule, with a report of the measured quantities behind each claim.

Run `python -m theory` from the repository root; `python -m theory --help` lists the
options. Each figure has its own module (`fig_s1` to `fig_s4`) with a `run(config)`
function that returns a `FigureResult`.
"""

import matplotlib

# Figures are written to files only, so no display backend is needed.
matplotlib.use("Agg")
