"""Save a figure as PNG + PDF together with the CSV of exactly the data it draws.

``save(fig, df, folder, name)`` writes ``name.png``, ``name.pdf`` and ``name.csv`` atomically (write to a
temporary file, then ``os.replace``) and returns the three paths.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _atomic_write(path: Path, writer) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        writer(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save(fig, df, folder, name: str) -> dict[str, Path]:
    """Write ``folder/name.{png,pdf,csv}``; the CSV is ``df`` (the plotted data), written without index."""
    import matplotlib.pyplot as plt

    folder = Path(folder)
    paths = {ext: folder / f"{name}.{ext}" for ext in ("png", "pdf", "csv")}
    _atomic_write(paths["png"], lambda p: fig.savefig(p, dpi=130, format="png"))
    fig.set_layout_engine("none")  # the layout is solved once (for the PNG) and reused for the PDF
    _atomic_write(paths["pdf"], lambda p: fig.savefig(p, format="pdf"))
    _atomic_write(paths["csv"], lambda p: df.to_csv(p, index=False))
    plt.close(fig)
    return paths
