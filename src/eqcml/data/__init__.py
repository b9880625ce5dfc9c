"""Data loaders. Every loader works offline: small real data sets ship with eqcml
or scikit-learn, and larger ones are read from a local copy the user points to."""

from ._boston import (
    BOSTON_FEATURES as BOSTON_FEATURES,
    BostonSplits as BostonSplits,
    load_boston as load_boston,
    Split as Split,
)
from ._image_datasets import load_cifar10 as load_cifar10, load_mnist as load_mnist
from ._images import (
    ImageSplits as ImageSplits,
    LabelledImages as LabelledImages,
    load_digits as load_digits,
)
