"""Atomic file writers for scripts that save results, figures and reports.

Every file is first written to a temporary file in the destination folder and then
moved into place with `os.replace`, so an interrupted run never leaves a truncated
file behind.
"""

import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`, moved onto `path` when the block ends
    without an exception and deleted otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        # mkstemp creates the file readable by its owner only; give the result the
        # permissions an ordinary new file would get under the current umask.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically, as UTF-8."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def write_json(path: str | os.PathLike, payload: Any) -> None:
    """Write `payload` to `path` atomically as indented JSON."""
    write_text(path, json.dumps(payload, indent=2) + "\n")


def write_csv(path: str | os.PathLike, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write a header and rows to `path` atomically as CSV; floats keep 17 digits."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([f"{x:.17g}" if isinstance(x, float) else x for x in row])
    write_text(path, buffer.getvalue())


def save_figure(figure, path: str | os.PathLike, dpi: int = 100) -> None:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(figure)
