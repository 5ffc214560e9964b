"""bounds.spectrum_io: every accepted format gives the same singular values; bad files are UsageErrors."""
import json

import numpy as np
import pytest

from bounds.cliutil import UsageError
from bounds.spectrum_io import read_spectrum

RNG = np.random.default_rng(0)
W = RNG.normal(size=(12, 7))
SV = np.linalg.svd(W, compute_uv=False)


def test_npy_matrix_and_vector(tmp_path):
    np.save(tmp_path / "w.npy", W)
    spec = read_spectrum(tmp_path / "w.npy")
    np.testing.assert_allclose(spec.singular_values, SV, rtol=1e-12)
    assert spec.shape == (12, 7)
    np.save(tmp_path / "s.npy", SV[::-1])  # any order
    spec = read_spectrum(tmp_path / "s.npy")
    np.testing.assert_allclose(spec.singular_values, SV, rtol=1e-12)
    assert spec.shape is None


def test_text_and_csv(tmp_path):
    np.savetxt(tmp_path / "s.txt", SV)
    np.testing.assert_allclose(read_spectrum(tmp_path / "s.txt").singular_values, SV, rtol=1e-12)
    np.savetxt(tmp_path / "w.csv", W, delimiter=",")
    np.testing.assert_allclose(read_spectrum(tmp_path / "w.csv").singular_values, SV, rtol=1e-12)


def test_safetensors_tensor_and_model_folder(tmp_path):
    from safetensors.numpy import save_file

    tensors = {"encoder.layer.0.attention.self.query.weight": W.astype(np.float32),
               "encoder.layer.0.attention.self.query.bias": np.zeros(12, dtype=np.float32)}
    save_file(tensors, str(tmp_path / "model.safetensors"))
    spec = read_spectrum(tmp_path / "model.safetensors", tensor="encoder.layer.0.attention.self.query.weight")
    np.testing.assert_allclose(spec.singular_values, SV, rtol=1e-5)
    spec = read_spectrum(tmp_path, module="encoder.layer.0.attention.self.query")
    np.testing.assert_allclose(spec.singular_values, SV, rtol=1e-5)
    with pytest.raises(UsageError, match="choose one"):
        read_spectrum(tmp_path / "model.safetensors")
    with pytest.raises(UsageError, match="not found"):
        read_spectrum(tmp_path / "model.safetensors", tensor="nope")


def test_sharded_folder_and_bf16(tmp_path):
    import struct

    # a bf16 tensor written by hand (safetensors.numpy cannot write bf16): top 16 bits of float32
    w32 = W.astype(np.float32)
    bf16 = (w32.view(np.uint32) >> 16).astype("<u2")
    header = {"q.weight": {"dtype": "BF16", "shape": list(W.shape), "data_offsets": [0, bf16.nbytes]}}
    blob = json.dumps(header).encode()
    (tmp_path / "shard-1.safetensors").write_bytes(struct.pack("<Q", len(blob)) + blob + bf16.tobytes())
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"q.weight": "shard-1.safetensors"}}))
    spec = read_spectrum(tmp_path, module="q")
    truncated = (bf16.astype(np.uint32) << 16).view(np.float32).reshape(W.shape)
    np.testing.assert_allclose(spec.singular_values, np.linalg.svd(truncated.astype(float), compute_uv=False), rtol=1e-6)
    np.testing.assert_allclose(spec.singular_values, SV, rtol=2e-2)


def test_pt_file_through_weights_io(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"layer": {"q": {"weight": torch.tensor(W)}}}, tmp_path / "w.pt")
    spec = read_spectrum(tmp_path / "w.pt", tensor="layer.q")
    np.testing.assert_allclose(spec.singular_values, SV, rtol=1e-12)


@pytest.mark.parametrize("content, match", [
    (np.array([1.0, np.nan, 2.0]), "NaN"),
    (np.array([1.0, -2.0]), "non-negative"),
    (np.zeros(4), "zero"),
    (np.zeros((2, 2, 2)), "3-D"),
    (np.array([], dtype=float), "empty"),
])
def test_bad_arrays(tmp_path, content, match):
    np.save(tmp_path / "bad.npy", content)
    with pytest.raises(UsageError, match=match):
        read_spectrum(tmp_path / "bad.npy")


def test_missing_unreadable_unknown(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        read_spectrum(tmp_path / "missing.npy")
    (tmp_path / "junk.npy").write_bytes(b"not a numpy file")
    with pytest.raises(UsageError, match="cannot read"):
        read_spectrum(tmp_path / "junk.npy")
    (tmp_path / "junk.txt").write_text("1 2 x\n")
    with pytest.raises(UsageError, match="numbers"):
        read_spectrum(tmp_path / "junk.txt")
    (tmp_path / "a.xyz").write_text("1")
    with pytest.raises(UsageError, match="unknown spectrum format"):
        read_spectrum(tmp_path / "a.xyz")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 4)
    with pytest.raises(UsageError, match="safetensors"):
        read_spectrum(tmp_path / "junk.safetensors")


def test_pt_read_failures_name_the_file_and_are_not_key_errors(tmp_path):
    """Every torch.load failure becomes WeightsFileError naming the file (B4: a text file named .pt used to be
    reported as '101', the KeyError of a pickle opcode); only a bad tensor name is a KeyError."""
    import io
    import os
    import pickle

    torch = pytest.importorskip("torch")
    from empirical.runtime.weights_io import WeightsFileError, load_tensor

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    buf = io.BytesIO()
    torch.save({"w": torch.eye(3)}, buf)
    files = {"text.pt": b"hello, this is not a checkpoint\n", "empty.pt": b"",
             "trunc.pt": buf.getvalue()[: len(buf.getvalue()) // 2], "evil.pt": pickle.dumps(Evil(), protocol=2)}
    for name, blob in files.items():
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(WeightsFileError, match=name):
            load_tensor(tmp_path / name)
        with pytest.raises(UsageError, match=name) as info:
            read_spectrum(tmp_path / name)
        assert "not a PyTorch weights file" in str(info.value) or "weights_only" in str(info.value)
    torch.save({"a": torch.eye(3), "b": torch.eye(4)}, tmp_path / "two.pt")
    with pytest.raises(KeyError, match="zz"):
        load_tensor(tmp_path / "two.pt", "zz")
    torch.save({"lr": 0.1}, tmp_path / "none.pt")
    with pytest.raises(WeightsFileError, match="no tensors"):
        load_tensor(tmp_path / "none.pt")


def test_empty_folder_and_unknown_tensor_say_what_is_there(tmp_path):
    """Issue 16: an empty folder is not called a model folder; an unknown tensor lists the names that exist."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="without model.safetensors") as exc:
        read_spectrum(tmp_path / "empty")
    assert "--module" not in str(exc.value)
    from safetensors.numpy import save_file

    save_file({"layer.0.q.weight": np.eye(3, dtype=np.float32), "layer.0.k.weight": np.eye(3, dtype=np.float32)},
              str(tmp_path / "w.safetensors"))
    with pytest.raises(UsageError, match="not found; the file holds") as exc:
        read_spectrum(tmp_path / "w.safetensors", tensor="NOSUCH")
    assert "layer.0.q.weight" in str(exc.value) and "layer.0.k.weight" in str(exc.value)
