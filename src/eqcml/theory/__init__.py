"""Theory of the contrastive rule: Theorem 1's error bound, Corollary 1's optimal
beta, and a quadratic model in which every quantity has a closed form.

Reference: Zucchet, Schug, von Oswald, Zhao and Sacramento, "A contrastive rule for
meta-learning", NeurIPS 2022, supplementary sections S3.1 to S3.5.
"""

from ._bounds import (
    best_bound as best_bound,
    best_bound_upper as best_bound_upper,
    optimal_beta as optimal_beta,
    theorem1_bound as theorem1_bound,
)
from ._quadratic import QuadraticModel as QuadraticModel
