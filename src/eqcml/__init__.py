"""eqcml: contrastive meta-learning in JAX and Equinox."""

import importlib.metadata

from . import data as data, internal as internal, models as models, theory as theory
from ._contrastive import (
    contrastive_grad as contrastive_grad,
    contrastive_solve as contrastive_solve,
    contrastive_value_and_grad as contrastive_value_and_grad,
    exact_grad as exact_grad,
)
from ._estimators import (
    AbstractEstimator as AbstractEstimator,
    Contrastive as Contrastive,
    Estimate as Estimate,
    Exact as Exact,
)
from ._estimators import (
    AbstractEquilibriumEstimator as AbstractEquilibriumEstimator,
    AbstractImplicitEstimator as AbstractImplicitEstimator,
    ConjugateGradient as ConjugateGradient,
    FirstOrderUnrolled as FirstOrderUnrolled,
    Neumann as Neumann,
    Reptile as Reptile,
    T1T2 as T1T2,
    TruncatedUnrolled as TruncatedUnrolled,
    Unrolled as Unrolled,
)
from ._meta_grad import (
    meta_grad as meta_grad,
    meta_solve as meta_solve,
    meta_value_and_grad as meta_value_and_grad,
)
from ._problem import Objective as Objective, Problem as Problem
from ._results import RESULTS as RESULTS
from ._solution import InnerSolution as InnerSolution, Solution as Solution
from ._solvers import (
    AbstractInnerSolver as AbstractInnerSolver,
    GradientFlowSolver as GradientFlowSolver,
    OptaxSolver as OptaxSolver,
)
from .models import ComplexSynapse as ComplexSynapse, LearnedL2 as LearnedL2

__version__ = importlib.metadata.version("eqcml")
