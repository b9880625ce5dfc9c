"""Helpers shared across eqcml's modules. Not part of the stable API."""

from ._tree import (
    is_floating_array as is_floating_array,
    tree_dot as tree_dot,
    tree_isfinite as tree_isfinite,
    tree_norm as tree_norm,
    tree_size as tree_size,
)
from ._io import (
    atomic_path as atomic_path,
    save_figure as save_figure,
    write_csv as write_csv,
    write_json as write_json,
    write_text as write_text,
)
