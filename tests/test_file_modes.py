"""Written files honour the umask: a result store record and a saved figure get mode 0666 & ~umask
(mkstemp's 0600 hid a shared results folder from its other users)."""
import os
import stat

import pytest

from empirical.cache.store import ResultStore, atomic_write


@pytest.fixture(params=[0o022, 0o077, 0o002])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_bytes_and_writer(tmp_path, umask):
    atomic_write(tmp_path / "a.bin", b"x")
    from pathlib import Path

    atomic_write(tmp_path / "b.txt", lambda p: Path(p).write_text("y"))
    assert _mode(tmp_path / "a.bin") == 0o666 & ~umask
    assert _mode(tmp_path / "b.txt") == 0o666 & ~umask
    assert (tmp_path / "b.txt").read_text() == "y"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin", "b.txt"]  # no temporary left behind


def test_store_record_and_arrays(tmp_path, umask):
    import numpy as np

    store = ResultStore(tmp_path)
    store.put("ab" * 32, {"v": 1}, arrays={"w": np.zeros(3, dtype=np.float32)})
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".json", ".safetensors"}
    assert {_mode(p) for p in files} == {0o666 & ~umask}


def test_figure_files(tmp_path, umask):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from figures import io

    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    paths = io.save(fig, pd.DataFrame({"x": [1, 2], "y": [3, 4]}), tmp_path, "f")
    assert {_mode(p) for p in paths.values()} == {0o666 & ~umask}
