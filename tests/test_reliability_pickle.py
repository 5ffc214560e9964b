"""Untrusted artifacts: a pickle that would execute code is refused by every loader that reads user tensors.

The crafted files unpickle to ``os.system("touch MARKER")``: loading them with plain ``torch.load(weights_only=False)``
or ``pickle.load`` creates MARKER (the control test shows the files are live), so a loader that lets them
through leaves the marker behind. Loaders under test: :mod:`empirical.runtime.weights_io` (the one place that reads
``.pt``), ``lrkd rank --spectrum x.pt``, ``lrkd mi`` / spectrum ``.npy`` with an object array, and the
content-hashed store from which teachers (checkpoints) are loaded, given a pickle in place of its safetensors
blob with a matching checksum (an attacker who can write the cache can also write the checksum). A static
check finds every ``torch.load``/``pickle``/``np.load`` call in the package and requires the safe form.
"""
from __future__ import annotations

import ast
import hashlib
import io
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


class _Evil:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        import os
        import shlex

        return (os.system, (f"touch {shlex.quote(self.marker)}",))


@pytest.fixture
def evil(tmp_path):
    """(marker path, {kind: crafted file})."""
    marker = tmp_path / "PWNED"
    files = {}
    for kind, obj in (("state_dict", {"w": torch.eye(3), "x": _Evil(str(marker))}),
                      ("bare", _Evil(str(marker))),
                      ("nested", {"model": {"layer": [torch.ones(2), _Evil(str(marker))]}})):
        buf = io.BytesIO()
        torch.save(obj, buf)
        files[kind] = tmp_path / f"{kind}.pt"
        files[kind].write_bytes(buf.getvalue())
    files["legacy"] = tmp_path / "legacy.pt"  # a bare pickle stream (torch.load's pre-zip format)
    files["legacy"].write_bytes(pickle.dumps(_Evil(str(marker)), protocol=2))
    files["bin"] = tmp_path / "pytorch_model.bin"
    files["bin"].write_bytes(files["state_dict"].read_bytes())
    return marker, files


def test_control_the_crafted_files_do_execute_when_unpickled_unsafely(evil):
    """Without this, the tests below could pass because the files were harmless."""
    marker, files = evil
    for kind in ("state_dict", "legacy"):
        assert not marker.exists()
        try:
            torch.load(files[kind], weights_only=False)
        except Exception:  # noqa: BLE001 - whatever the object turned into, the side effect is what matters
            pass
        assert marker.exists(), kind
        marker.unlink()


@pytest.mark.parametrize("kind", ["state_dict", "bare", "nested", "legacy", "bin"])
def test_weights_io_refuses_code_carrying_pickles(evil, kind):
    from empirical.runtime import weights_io

    marker, files = evil
    for fn in (weights_io.load_tensor, weights_io.list_tensors):
        with pytest.raises(Exception) as info:
            fn(files[kind])
        assert not isinstance(info.value, (AssertionError, SystemExit))
        assert not marker.exists(), f"{fn.__name__} executed the pickle in {kind}"


@pytest.mark.parametrize("kind", ["state_dict", "legacy", "bin"])
def test_lrkd_rank_spectrum_refuses_code_carrying_pickles(evil, kind, capsys, tmp_path, monkeypatch):
    import paper_repro

    marker, files = evil
    monkeypatch.chdir(tmp_path)
    rc = paper_repro.cli(["rank", "--samples", "100", "--shape", "3", "3", "--spectrum", str(files[kind])])
    out, err = capsys.readouterr()
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1, err
    assert files[kind].name in err  # the message names the file
    assert not marker.exists()


def test_object_npy_is_refused_by_spectrum_and_mi_loaders(tmp_path, capsys, monkeypatch):
    import paper_repro

    marker = tmp_path / "PWNED"
    np.save(tmp_path / "obj.npy", np.array([_Evil(str(marker)), 1.0], dtype=object), allow_pickle=True)
    np.save(tmp_path / "y.npy", np.ones((2, 1)))
    monkeypatch.chdir(tmp_path)
    for argv in (["rank", "--samples", "9", "--shape", "2", "2", "--spectrum", str(tmp_path / "obj.npy")],
                 ["mi", "--x", str(tmp_path / "obj.npy"), "--y", str(tmp_path / "y.npy")]):
        rc = paper_repro.cli(argv)
        _, err = capsys.readouterr()
        assert rc == 2 and len(err.strip().splitlines()) == 1, err
        assert not marker.exists()


def _tiny_teacher_cfg():
    from empirical.config import DataConfig, TeacherConfig, TeacherTrainConfig

    return TeacherTrainConfig(model=TeacherConfig(d_model=16, n_layers=1, n_heads=2, n_kv_heads=2, d_ff=44, context=16),
                              data=DataConfig(context=16, heldout_sequences=32), steps=3, batch_size=4)


def test_store_never_unpickles_a_planted_checkpoint(tmp_path):
    """Replace a stored teacher's safetensors blob by a code-carrying pickle and fix up its checksum: the
    store refuses it (not safetensors), the teacher is retrained and re-stored, the marker never appears."""
    from empirical.training import teacher_training as train
    from empirical.config import config_hash
    from empirical.cache.store import ResultStore

    store = ResultStore(tmp_path / "store")
    cfg = _tiny_teacher_cfg()
    model, rec = train.get_teacher(cfg, store=store, force=True)
    key = config_hash(cfg)
    blob_path = store.path_for(key).with_suffix(".safetensors")
    assert blob_path.exists()
    marker = tmp_path / "PWNED"
    buf = io.BytesIO()
    torch.save({k: v for k, v in model.state_dict().items()} | {"x": _Evil(str(marker))}, buf)
    blob_path.write_bytes(buf.getvalue())
    wrapper = json.loads(store.path_for(key).read_text())
    wrapper["arrays"]["sha256"] = hashlib.sha256(buf.getvalue()).hexdigest()
    store.path_for(key).write_text(json.dumps(wrapper))
    assert store.get_arrays(key) is None
    assert not marker.exists()
    train._TEACHERS.clear()  # no in-process memo: go to the store
    model2, rec2 = train.get_teacher(cfg, store=store)
    assert not marker.exists()
    assert rec2.get("from_cache") is False  # retrained, not loaded
    assert store.get_arrays(key) is not None  # and stored again, as safetensors
    for (k, a), (_, b) in zip(sorted(model.state_dict().items()), sorted(model2.state_dict().items())):
        assert torch.equal(a, b), k  # CPU training is deterministic: the retrained teacher is the same


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func
            if isinstance(fn, ast.Attribute) and isinstance(fn.value, ast.Name):
                yield node, f"{fn.value.id}.{fn.attr}"
            elif isinstance(fn, ast.Name):
                yield node, fn.id


def test_every_loader_in_the_package_is_the_safe_form():
    """Static: torch.load only with weights_only=True; np.load never with allow_pickle=True; no pickle.load(s),
    no joblib/dill/torch.jit.load/pandas.read_pickle anywhere in bounds/, empirical/, figures/, paper_repro.py."""
    bad = []
    paths = [p for pkg in ("bounds", "empirical", "figures") for p in (ROOT / pkg).rglob("*.py")]
    for path in [*paths, ROOT / "paper_repro.py"]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = lambda n: f"{path.relative_to(ROOT)}:{n.lineno}"  # noqa: E731
        for node, name in _calls(tree):
            kw = {k.arg: k.value for k in node.keywords}
            if name == "torch.load":
                v = kw.get("weights_only")
                if not (isinstance(v, ast.Constant) and v.value is True):
                    bad.append(f"{where(node)} torch.load without weights_only=True")
            elif name in ("np.load", "numpy.load"):
                v = kw.get("allow_pickle")
                if isinstance(v, ast.Constant) and v.value is True or (v is not None and not isinstance(v, ast.Constant)):
                    bad.append(f"{where(node)} np.load with allow_pickle")
            elif name in ("pickle.load", "pickle.loads", "dill.load", "joblib.load", "pd.read_pickle",
                          "pandas.read_pickle", "jit.load", "cloudpickle.load", "cloudpickle.loads"):
                bad.append(f"{where(node)} {name}")
    assert bad == []
