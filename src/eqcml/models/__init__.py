"""Meta-parameterisations: the slow parameters that shape an inner learning process."""

from ._complex_synapse import ComplexSynapse as ComplexSynapse, LearnedL2 as LearnedL2
from ._regression import mlp_l2_regression as mlp_l2_regression, mse_l2_problem as mse_l2_problem
