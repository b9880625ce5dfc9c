"""Test configuration: float64 everywhere and a fixed hypothesis profile.

Runtime type checks of the jaxtyping annotations with beartype are switched on by
`--jaxtyping-packages=eqcml,beartype.beartype` in `pyproject.toml`.
"""

import os

import jax
from hypothesis import HealthCheck, settings

jax.config.update("jax_enable_x64", True)

settings.register_profile(
    "ci",
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
