"""Save a figure as PNG + PDF together with the CSV of exactly the data it draws.

``save(fig, df, folder, name)`` writes ``name.png``, ``name.pdf`` and ``name.csv`` atomically through
:func:`empirical.cache.store.atomic_write` (a temporary file created with mode 0666 & ~umask, then ``os.replace``)
and returns the three paths.
"""
from __future__ import annotations

from pathlib import Path

from empirical.cache.store import atomic_write


def save(fig, df, folder, name: str) -> dict[str, Path]:
    """Write ``folder/name.{png,pdf,csv}``; the CSV is ``df`` (the plotted data), written without index."""
    import matplotlib.pyplot as plt

    folder = Path(folder)
    paths = {ext: folder / f"{name}.{ext}" for ext in ("png", "pdf", "csv")}
    atomic_write(paths["png"], lambda p: fig.savefig(p, dpi=130, format="png"))
    fig.set_layout_engine("none")  # the layout is solved once (for the PNG) and reused for the PDF
    atomic_write(paths["pdf"], lambda p: fig.savefig(p, format="pdf"))
    atomic_write(paths["csv"], lambda p: df.to_csv(p, index=False))
    plt.close(fig)
    return paths
