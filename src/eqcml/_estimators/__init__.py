from ._base import (
    AbstractEstimator as AbstractEstimator,
    combine_results as combine_results,
    Estimate as Estimate,
)
from ._contrastive import Contrastive as Contrastive
from ._exact import Exact as Exact
from ._conjugate_gradient import ConjugateGradient as ConjugateGradient
from ._equilibrium import (
    AbstractEquilibriumEstimator as AbstractEquilibriumEstimator,
    warn_if_zero_by_construction as warn_if_zero_by_construction,
)
from ._implicit import AbstractImplicitEstimator as AbstractImplicitEstimator
from ._neumann import Neumann as Neumann
from ._reptile import Reptile as Reptile
from ._t1t2 import T1T2 as T1T2
from ._unrolled import (
    FirstOrderUnrolled as FirstOrderUnrolled,
    TruncatedUnrolled as TruncatedUnrolled,
    Unrolled as Unrolled,
)
