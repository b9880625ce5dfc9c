from ._base import (
    AbstractEstimator as AbstractEstimator,
    combine_results as combine_results,
    Estimate as Estimate,
)
from ._contrastive import Contrastive as Contrastive
from ._exact import Exact as Exact
