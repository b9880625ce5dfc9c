"""Data loaders. Every loader works offline: small real data sets ship with eqcml,
and larger ones are read from a local copy the user points to."""

from ._boston import (
    BOSTON_FEATURES as BOSTON_FEATURES,
    BostonSplits as BostonSplits,
    load_boston as load_boston,
    Split as Split,
)
