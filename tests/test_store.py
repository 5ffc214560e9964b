"""ResultStore: round trip, atomic writes (a failed write leaves nothing), corrupt files read as missing."""
import os

import numpy as np
import pytest

from empirical.config import DataConfig, config_hash
from empirical.cache.store import ResultStore

KEY = config_hash(DataConfig())


def test_round_trip_with_arrays(tmp_path):
    st = ResultStore(tmp_path)
    assert st.get(KEY) is None and KEY not in st
    arr = {"w": np.arange(6, dtype=np.float32).reshape(2, 3)}
    st.put(KEY, {"a": 1, "b": [1.5, None]}, arrays=arr)
    assert st.get(KEY) == {"a": 1, "b": [1.5, None]}
    np.testing.assert_array_equal(st.get_arrays(KEY)["w"], arr["w"])
    assert st.path_for(KEY).parent.name == KEY[:2]
    assert not [p for p in st.path_for(KEY).parent.iterdir() if p.name.endswith(".tmp")]


def test_failed_write_leaves_no_result_and_no_temp(tmp_path, monkeypatch):
    st = ResultStore(tmp_path)
    def boom(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        st.put(KEY, {"a": 1})
    monkeypatch.undo()
    assert st.get(KEY) is None
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.parametrize("damage", ["truncate", "edit_value", "arrays_bytes", "arrays_missing"])
def test_corrupt_files_read_as_missing(tmp_path, damage):
    st = ResultStore(tmp_path)
    st.put(KEY, {"loss": 1.25}, arrays={"w": np.ones(4, dtype=np.float32)})
    js, sf = st.path_for(KEY), st.path_for(KEY).with_suffix(".safetensors")
    if damage == "truncate":
        js.write_text(js.read_text()[:20])
    elif damage == "edit_value":
        js.write_text(js.read_text().replace("1.25", "1.5"))
    elif damage == "arrays_bytes":
        b = bytearray(sf.read_bytes())
        b[-1] ^= 0xFF
        sf.write_bytes(bytes(b))
    else:
        sf.unlink()
    assert st.get(KEY) is None and st.get_arrays(KEY) is None


def test_rejects_non_hex_keys(tmp_path):
    with pytest.raises(ValueError):
        ResultStore(tmp_path).path_for("../etc")
