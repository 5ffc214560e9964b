"""Bad input for every `lrkd` command, run in-process (``paper_repro.cli``) with a sample in real subprocesses.

Every case below is one user mistake of a named *kind* (non-numeric, negative, zero, huge, NaN/inf, wrong
shape, missing / empty / truncated / wrong-format / non-UTF-8 file, unknown name, conflicting options). The
contract (COMMON.md, issue 8): exit status 2, exactly one line on stderr that starts ``lrkd <cmd>: error:``
(or argparse's ``lrkd <cmd>: error:``) and names the argument, no traceback, nothing on stdout, and nothing
written: the working folder (and the cache folder ``$LRKD_CACHE``) is byte-for-byte unchanged.

``CASES`` is the table the README's reliability section counts (``python -m pytest --collect-only -q
tests/test_bad_input_cli.py``): each id is ``<command>/<kind>/<what>``.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

import paper_repro
from conftest import ROOT as ROOT_DIR
from conftest import run_lrkd

# ------------------------------------------------------------------------------------------- input files

GOOD_X = np.random.default_rng(0).standard_normal((60, 2))
GOOD_Y = GOOD_X @ np.array([[1.0, 0.2], [0.0, 1.0]]) + 0.5 * np.random.default_rng(1).standard_normal((60, 2))


class _Evil:
    """Unpickling this object creates the file ``PWNED`` in the current folder."""

    def __reduce__(self):
        return (open, ("PWNED", "w"))


def _npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _safetensors_bytes(arr) -> bytes:
    from safetensors.numpy import save

    return save({"w": np.ascontiguousarray(arr, dtype=np.float32)})


def _pt_bytes(obj) -> bytes:
    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def make_files(d: Path) -> dict[str, Path]:
    """Every bad (and a few good) input files in folder ``d``; returns {name: path}."""
    import torch

    f: dict[str, Path] = {}

    def put(name: str, data: bytes | str) -> None:
        p = d / name
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        f[name] = p

    good_npy = _npy_bytes(np.array([3.0, 2.0, 1.0, 0.5]))
    put("x.npy", _npy_bytes(GOOD_X))
    put("y.npy", _npy_bytes(GOOD_Y))
    put("y_short.npy", _npy_bytes(GOOD_Y[:40]))
    put("x_3d.npy", _npy_bytes(GOOD_X.reshape(60, 2, 1)))
    put("x_nan.npy", _npy_bytes(np.where(np.arange(120).reshape(60, 2) == 7, np.nan, GOOD_X)))
    put("x_inf.npy", _npy_bytes(np.where(np.arange(120).reshape(60, 2) == 7, np.inf, GOOD_X)))
    put("x_str.npy", _npy_bytes(np.array(["a", "b", "c"] * 20)))
    put("x_tiny.npy", _npy_bytes(GOOD_X[:2]))
    put("x_empty_arr.npy", _npy_bytes(np.zeros((0, 2))))
    put("x_huge.npy", _npy_bytes(GOOD_X * 1e300))
    put("obj.npy", _npy_bytes(np.array([_Evil(), 1], dtype=object)))  # needs allow_pickle: refused
    put("empty.npy", b"")
    put("trunc.npy", good_npy[: len(good_npy) // 2])
    put("text.npy", "1 2 3\n")
    put("nonutf8.npy", b"\xff\xfe\xfa\x00\x01" * 10)
    npz = io.BytesIO()
    np.savez(npz, a=GOOD_X)
    put("arch.npz", npz.getvalue())
    put("sv_nan.npy", _npy_bytes(np.array([1.0, np.nan, 0.1])))
    put("sv_inf.npy", _npy_bytes(np.array([np.inf, 1.0, 0.1])))
    put("sv_neg.txt", "3\n-2\n1\n")
    put("sv_zero.txt", "0\n0\n0\n")
    put("sv_3d.npy", _npy_bytes(np.ones((2, 2, 2))))
    put("sv_str.txt", "big\nsmall\n")
    put("sv_ragged.csv", "1,2,3\n4,5\n")
    put("empty.txt", "")
    put("comments.txt", "# nothing here\n\n")
    put("nonutf8.txt", b"\xff\xfe 3 2 1\n\xc3\x28\n")
    put("nonutf8.csv", b"rank,samples\n\xff\xfe,\xc3\x28\n")
    put("sv.unknownext", "3 2 1\n")
    put("empty.safetensors", b"")
    st = _safetensors_bytes(np.diag([3.0, 2.0, 1.0]))
    put("trunc.safetensors", st[: len(st) - 8])
    put("garbage.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}" + b"\x00" * 32)
    put("huge_header.safetensors", struct.pack("<Q", 2**62) + b"{}")
    put("two.safetensors", __import__("safetensors.numpy", fromlist=["save"]).save(
        {"a": np.eye(3, dtype=np.float32), "b": np.eye(4, dtype=np.float32)}))
    put("empty.pt", b"")
    pt = _pt_bytes({"w": torch.eye(3)})
    put("trunc.pt", pt[: len(pt) // 2])
    put("text.pt", "hello, this is not a checkpoint\n")
    put("evil.pt", _pt_bytes({"w": torch.eye(3), "x": _Evil()}))
    put("evil_legacy.pt", pickle.dumps(_Evil(), protocol=2))
    put("notensor.pt", _pt_bytes({"lr": 0.1, "name": "x"}))
    put("two.pt", _pt_bytes({"a": torch.eye(3), "b": torch.eye(4)}))
    zip_buf = io.BytesIO()
    with zipfile.ZipFile(zip_buf, "w") as z:
        z.writestr("archive/data.pkl", b"not a pickle")
    put("badzip.pt", zip_buf.getvalue())
    put("cfg_empty.json", "")
    put("cfg_bad.json", "{hidden_size: 64,")
    put("cfg_list.json", "[1, 2, 3]")
    put("cfg_nonutf8.json", b"\xff\xfe{\"hidden_size\": 64}")
    put("cfg_missing.json", json.dumps({"hidden_size": 64}))
    put("cfg_neg.json", json.dumps({"hidden_size": -64, "num_hidden_layers": 2}))
    put("cfg_str.json", json.dumps({"hidden_size": "64", "num_hidden_layers": 2}))
    put("cfg_float.json", json.dumps({"hidden_size": 64.5, "num_hidden_layers": 2}))
    put("cfg_nan.json", '{"hidden_size": NaN, "num_hidden_layers": 2}')
    header = "rank,samples,seed,train_loss,test_loss\n"
    put("t_header_only.csv", header)
    put("t_empty.csv", "")
    put("t_missing_col.csv", "rank,samples,train_loss\n1,10,0.5\n")
    put("t_text_value.csv", header + "1,10,0,0.5,lots\n")
    put("t_empty_value.csv", header + "1,10,0,,0.7\n")
    put("t_binary.csv", bytes(range(256)) * 4)
    put("t_nonutf8.csv", header.encode() + b"1,10,0,0.5,\xff\xfe\n")
    put("t_unclosed_quote.csv", header + '1,10,0,"0.5,0.7\n')
    for name in ("run_no_csv", "run_empty", "run_nonutf8", "run_binary", "run_header"):
        (d / name).mkdir()
        f[name] = d / name
    (d / "run_empty" / "runs.csv").write_bytes(b"")
    (d / "run_nonutf8" / "runs.csv").write_bytes(header.encode() + b"1,10,0,0.5,\xff\n")
    (d / "run_binary" / "runs.csv").write_bytes(bytes(range(256)) * 4)
    (d / "run_header" / "runs.csv").write_text("config_hash,status\n")
    (d / "empty_dir").mkdir()
    f["empty_dir"] = d / "empty_dir"
    put("a_file", "I am a file, not a folder\n")
    return f


# ------------------------------------------------------------------------------------------- the cases

# (command, kind, what, argv with @name for a file path and @missing for a path that does not exist,
#  a word the one-line message must contain (the argument's name, or the file's))
R = ["rank", "--shape", "8", "8", "--samples", "100"]
RS = ["rank", "--samples", "100"]
MI = ["mi", "--estimator", "gaussian"]


def C(cmd, kind, what, argv, needle):
    return pytest.param(argv, needle, id=f"{cmd}/{kind}/{what}")


CASES = [
    # --------------------------------------------------------------- dispatcher
    C("lrkd", "unknown name", "command", ["rnak"], "rnak"),
    C("lrkd", "missing argument", "no command", [], "COMMAND"),
    # --------------------------------------------------------------- rank: numbers
    C("rank", "non-numeric", "samples", ["rank", "--shape", "8", "8", "--samples", "many"], "--samples"),
    C("rank", "non-UTF-8 argument", "samples", ["rank", "--shape", "8", "8", "--samples", "\udcff\udcfe1"],
      "--samples"),
    C("bounds", "non-UTF-8 argument", "value", ["bounds", "--eval", "G1", "C_G=1", "N=100", "p=\udcff"], "p"),
    C("rank", "non-numeric", "samples empty", ["rank", "--shape", "8", "8", "--samples", ""], "--samples"),
    C("rank", "non-numeric", "samples float", ["rank", "--shape", "8", "8", "--samples", "1.5"], "--samples"),
    C("rank", "negative", "samples", ["rank", "--shape", "8", "8", "--samples", "-100"], "--samples"),
    C("rank", "zero", "samples", ["rank", "--shape", "8", "8", "--samples", "0"], "--samples"),
    C("rank", "nan-or-inf", "samples nan", ["rank", "--shape", "8", "8", "--samples", "nan"], "--samples"),
    C("rank", "nan-or-inf", "samples inf", ["rank", "--shape", "8", "8", "--samples", "inf"], "--samples"),
    C("rank", "huge", "samples 10^5000", ["rank", "--shape", "8", "8", "--samples", "1" + "0" * 5000], "--samples"),
    C("rank", "wrong shape", "shape one value", ["rank", "--samples", "100", "--shape", "8"], "--shape"),
    C("rank", "wrong shape", "shape three values", ["rank", "--samples", "100", "--shape", "8", "8", "8"], "8"),
    C("rank", "zero", "shape", ["rank", "--samples", "100", "--shape", "0", "8"], "--shape"),
    C("rank", "negative", "shape", ["rank", "--samples", "100", "--shape", "8", "-8"], "--shape"),
    C("rank", "non-numeric", "shape", ["rank", "--samples", "100", "--shape", "m", "d"], "--shape"),
    C("rank", "missing argument", "shape or teacher", RS, "--shape"),
    C("rank", "missing argument", "samples", ["rank", "--shape", "8", "8"], "--samples"),
    C("rank", "non-numeric", "alpha", R + ["--alpha", "steep"], "--alpha"),
    C("rank", "negative", "alpha", R + ["--alpha", "-1"], "--alpha"),
    C("rank", "zero", "alpha", R + ["--alpha", "0"], "--alpha"),
    C("rank", "out of domain", "alpha 1/2", R + ["--alpha", "0.5"], "--alpha"),
    C("rank", "nan-or-inf", "alpha nan", R + ["--alpha", "nan"], "--alpha"),
    C("rank", "nan-or-inf", "alpha inf", R + ["--alpha", "inf"], "--alpha"),
    C("rank", "nan-or-inf", "alpha -inf", R + ["--alpha=-inf"], "--alpha"),
    C("rank", "huge", "alpha 1e999", R + ["--alpha", "1e999"], "--alpha"),
    C("rank", "nan-or-inf", "scale nan", R + ["--alpha", "1", "--scale", "nan"], "--scale"),
    C("rank", "zero", "scale", R + ["--alpha", "1", "--scale", "0"], "--scale"),
    C("rank", "negative", "c", R + ["--alpha", "1", "--c", "-2"], "--c"),
    C("rank", "nan-or-inf", "epsilon inf", R + ["--alpha", "1", "--epsilon", "inf"], "--epsilon"),
    C("rank", "zero", "epsilon", R + ["--alpha", "1", "--epsilon", "0"], "--epsilon"),
    C("rank", "negative", "noise-sigma", R + ["--noise-sigma", "-1"], "--noise-sigma"),
    C("rank", "zero", "boot", R + ["--boot", "0"], "--boot"),
    C("rank", "non-numeric", "seed", R + ["--seed", "lucky"], "--seed"),
    C("rank", "unknown name", "rate", R + ["--rate", "slow"], "--rate"),
    C("rank", "unknown name", "flag", R + ["--sample", "3"], "--sample"),
    C("rank", "conflicting", "alpha and spectrum", R + ["--alpha", "1", "--spectrum", "@x.npy"], "--spectrum"),
    C("rank", "conflicting", "shape and teacher", R + ["--teacher-config", "@cfg_missing.json"], "--teacher-config"),
    C("rank", "conflicting", "tensor without spectrum", R + ["--tensor", "w"], "--tensor"),
    C("rank", "conflicting", "shape differs from matrix", R + ["--spectrum", "@x.npy"], "--shape"),
    # --------------------------------------------------------------- rank: spectrum files
    C("rank", "missing file", "spectrum", R + ["--spectrum", "@missing"], "missing"),
    C("rank", "empty file", "spectrum npy", R + ["--spectrum", "@empty.npy"], "empty.npy"),
    C("rank", "empty file", "spectrum txt", R + ["--spectrum", "@empty.txt"], "empty.txt"),
    C("rank", "empty file", "spectrum only comments", R + ["--spectrum", "@comments.txt"], "comments.txt"),
    C("rank", "empty file", "spectrum safetensors", R + ["--spectrum", "@empty.safetensors"], "empty.safetensors"),
    C("rank", "empty file", "spectrum pt", R + ["--spectrum", "@empty.pt"], "empty.pt"),
    C("rank", "empty file", "spectrum empty array", R + ["--spectrum", "@x_empty_arr.npy"], "x_empty_arr.npy"),
    C("rank", "truncated file", "spectrum npy", R + ["--spectrum", "@trunc.npy"], "trunc.npy"),
    C("rank", "truncated file", "spectrum safetensors", R + ["--spectrum", "@trunc.safetensors"], "trunc.safetensors"),
    C("rank", "truncated file", "spectrum pt", R + ["--spectrum", "@trunc.pt"], "trunc.pt"),
    C("rank", "wrong format", "spectrum text as npy", R + ["--spectrum", "@text.npy"], "text.npy"),
    C("rank", "wrong format", "spectrum text as pt", R + ["--spectrum", "@text.pt"], "text.pt"),
    C("rank", "wrong format", "spectrum broken zip pt", R + ["--spectrum", "@badzip.pt"], "badzip.pt"),
    C("rank", "wrong format", "spectrum garbage safetensors", R + ["--spectrum", "@garbage.safetensors"],
      "garbage.safetensors"),
    C("rank", "huge", "spectrum safetensors header 2^62", R + ["--spectrum", "@huge_header.safetensors"],
      "huge_header.safetensors"),
    C("rank", "wrong format", "spectrum unknown extension", R + ["--spectrum", "@sv.unknownext"], "sv.unknownext"),
    C("rank", "wrong format", "spectrum npz", R + ["--spectrum", "@arch.npz"], "arch.npz"),
    C("rank", "wrong format", "spectrum strings", R + ["--spectrum", "@x_str.npy"], "x_str.npy"),
    C("rank", "wrong format", "spectrum text values", R + ["--spectrum", "@sv_str.txt"], "sv_str.txt"),
    C("rank", "wrong shape", "spectrum ragged csv", R + ["--spectrum", "@sv_ragged.csv"], "sv_ragged.csv"),
    C("rank", "wrong shape", "spectrum 3-D", R + ["--spectrum", "@sv_3d.npy"], "sv_3d.npy"),
    C("rank", "wrong format", "spectrum a folder without model", R + ["--spectrum", "@empty_dir", "--module", "q"],
      "empty_dir"),
    C("rank", "non-UTF-8 file", "spectrum txt", R + ["--spectrum", "@nonutf8.txt"], "nonutf8.txt"),
    C("rank", "non-UTF-8 file", "spectrum csv", R + ["--spectrum", "@nonutf8.csv"], "nonutf8.csv"),
    C("rank", "non-UTF-8 file", "spectrum npy", R + ["--spectrum", "@nonutf8.npy"], "nonutf8.npy"),
    C("rank", "nan-or-inf", "spectrum nan", R + ["--spectrum", "@sv_nan.npy"], "sv_nan.npy"),
    C("rank", "nan-or-inf", "spectrum inf", R + ["--spectrum", "@sv_inf.npy"], "sv_inf.npy"),
    C("rank", "negative", "spectrum singular values", R + ["--spectrum", "@sv_neg.txt"], "sv_neg.txt"),
    C("rank", "zero", "spectrum all zero", R + ["--spectrum", "@sv_zero.txt"], "sv_zero.txt"),
    C("rank", "unknown name", "tensor in safetensors", R + ["--spectrum", "@two.safetensors", "--tensor", "zz"], "zz"),
    C("rank", "unknown name", "tensor in pt", R + ["--spectrum", "@two.pt", "--tensor", "zz"], "zz"),
    C("rank", "missing argument", "tensor of two in safetensors", R + ["--spectrum", "@two.safetensors"], "--tensor"),
    C("rank", "wrong format", "pt without tensors", R + ["--spectrum", "@notensor.pt"], "notensor.pt"),
    C("rank", "malicious pickle", "spectrum pt", R + ["--spectrum", "@evil.pt"], "evil.pt"),
    C("rank", "malicious pickle", "spectrum legacy pickle", R + ["--spectrum", "@evil_legacy.pt"], "evil_legacy.pt"),
    C("rank", "malicious pickle", "spectrum object npy", R + ["--spectrum", "@obj.npy"], "obj.npy"),
    # --------------------------------------------------------------- rank: teacher config files
    C("rank", "missing file", "teacher config", RS + ["--teacher-config", "@missing"], "missing"),
    C("rank", "empty file", "teacher config", RS + ["--teacher-config", "@cfg_empty.json"], "cfg_empty.json"),
    C("rank", "wrong format", "teacher config not json", RS + ["--teacher-config", "@cfg_bad.json"], "cfg_bad.json"),
    C("rank", "wrong format", "teacher config a list", RS + ["--teacher-config", "@cfg_list.json"], "config"),
    C("rank", "non-UTF-8 file", "teacher config", RS + ["--teacher-config", "@cfg_nonutf8.json"], "cfg_nonutf8.json"),
    C("rank", "missing argument", "teacher config without layers", RS + ["--teacher-config", "@cfg_missing.json"],
      "num_hidden_layers"),
    C("rank", "negative", "teacher config hidden size", RS + ["--teacher-config", "@cfg_neg.json"], "hidden_size"),
    C("rank", "non-numeric", "teacher config hidden size", RS + ["--teacher-config", "@cfg_str.json"], "hidden_size"),
    C("rank", "non-numeric", "teacher config hidden size float", RS + ["--teacher-config", "@cfg_float.json"],
      "hidden_size"),
    C("rank", "nan-or-inf", "teacher config NaN", RS + ["--teacher-config", "@cfg_nan.json"], "hidden_size"),
    C("rank", "wrong format", "teacher config a folder without config", RS + ["--teacher-config", "@empty_dir"],
      "empty_dir"),
    # --------------------------------------------------------------- bounds
    C("bounds", "unknown name", "result id", ["bounds", "--eval", "G9"], "G9"),
    C("bounds", "unknown name", "argument", ["bounds", "--eval", "G1", "C_G=1", "p=10", "N=100", "q=1"], "q"),
    C("bounds", "missing argument", "value", ["bounds", "--eval", "G1", "C_G=1", "p=10"], "N"),
    C("bounds", "non-numeric", "value", ["bounds", "--eval", "G1", "C_G=1", "p=ten", "N=100"], "p"),
    C("bounds", "non-numeric", "empty value", ["bounds", "--eval", "G1", "C_G=1", "p=", "N=100"], "p"),
    C("bounds", "non-numeric", "list item", ["bounds", "--eval", "G1", "C_G=1", "p=1,x,3", "N=100"], "p"),
    C("bounds", "nan-or-inf", "value nan", ["bounds", "--eval", "G1", "C_G=1", "p=nan", "N=100"], "p"),
    C("bounds", "nan-or-inf", "value inf", ["bounds", "--eval", "G1", "C_G=1", "p=10", "N=inf"], "N"),
    C("bounds", "huge", "value 1e999", ["bounds", "--eval", "G1", "C_G=1", "p=10", "N=1e999"], "N"),
    C("bounds", "negative", "value", ["bounds", "--eval", "G1", "C_G=1", "p=10", "N=-100"], "N"),
    C("bounds", "zero", "value", ["bounds", "--eval", "G1", "C_G=1", "p=0", "N=100"], "p"),
    C("bounds", "wrong shape", "list lengths", ["bounds", "--eval", "G1", "C_G=1", "p=1,2", "N=1,2,3"], "length"),
    C("bounds", "wrong format", "no equals sign", ["bounds", "--eval", "G1", "C_G=1", "p", "N=100"], "name=value"),
    C("bounds", "conflicting", "given twice", ["bounds", "--eval", "G1", "C_G=1", "p=1", "p=2", "N=3"], "p"),
    C("bounds", "conflicting", "eval and latex", ["bounds", "--eval", "G1", "--latex", "C_G=1", "p=1", "N=3"],
      "--latex"),
    C("bounds", "conflicting", "values without eval", ["bounds", "p=1"], "--eval"),
    C("bounds", "code injection", "value", ["bounds", "--eval", "G1", "C_G=1", "N=100",
                                            "p=__import__('os').system('touch PWNED')"], "p"),
    C("bounds", "code injection", "name", ["bounds", "--eval", "G1", "C_G=1", "N=100", "p=1",
                                           "__import__('os').system('touch PWNED')=1"], "__import__"),
    C("bounds", "code injection", "id", ["bounds", "--eval", "__import__('os').system('touch PWNED')"],
      "__import__"),
    C("bounds", "code injection", "sympy string", ["bounds", "--eval", "G1", "C_G=1", "N=100",
                                                   "p=Symbol('x')+open('PWNED','w').close()"], "p"),
    # --------------------------------------------------------------- tightness
    C("tightness", "missing file", "path", ["tightness", "@missing"], "missing"),
    C("tightness", "missing argument", "path", ["tightness"], "path"),
    C("tightness", "empty file", "csv", ["tightness", "@t_empty.csv"], "t_empty.csv"),
    C("tightness", "empty file", "csv header only", ["tightness", "@t_header_only.csv"], "t_header_only.csv"),
    C("tightness", "wrong format", "missing column", ["tightness", "@t_missing_col.csv"], "seed"),
    C("tightness", "non-numeric", "value", ["tightness", "@t_text_value.csv"], "test_loss"),
    C("tightness", "missing argument", "empty value", ["tightness", "@t_empty_value.csv"], "t_empty_value.csv"),
    C("tightness", "wrong format", "binary csv", ["tightness", "@t_binary.csv"], "t_binary.csv"),
    C("tightness", "wrong format", "unclosed quote", ["tightness", "@t_unclosed_quote.csv"], "t_unclosed_quote.csv"),
    C("tightness", "non-UTF-8 file", "csv", ["tightness", "@t_nonutf8.csv"], "t_nonutf8.csv"),
    C("tightness", "wrong format", "folder without runs.csv", ["tightness", "@run_no_csv"], "runs.csv"),
    C("tightness", "empty file", "folder with empty runs.csv", ["tightness", "@run_empty"], "runs.csv"),
    C("tightness", "non-UTF-8 file", "folder runs.csv", ["tightness", "@run_nonutf8"], "runs.csv"),
    C("tightness", "wrong format", "folder binary runs.csv", ["tightness", "@run_binary"], "runs.csv"),
    C("tightness", "wrong format", "folder runs.csv without losses", ["tightness", "@run_header"], "runs.csv"),
    # --------------------------------------------------------------- mi
    C("mi", "missing argument", "y", ["mi", "--x", "@x.npy"], "--y"),
    C("mi", "missing file", "x", MI + ["--x", "@missing", "--y", "@y.npy"], "--x"),
    C("mi", "empty file", "x", MI + ["--x", "@empty.npy", "--y", "@y.npy"], "--x"),
    C("mi", "empty file", "x empty array", MI + ["--x", "@x_empty_arr.npy", "--y", "@y.npy"], "--x"),
    C("mi", "truncated file", "x", MI + ["--x", "@trunc.npy", "--y", "@y.npy"], "--x"),
    C("mi", "wrong format", "text as npy", MI + ["--x", "@text.npy", "--y", "@y.npy"], "--x"),
    C("mi", "wrong format", "npz archive", MI + ["--x", "@arch.npz", "--y", "@y.npy"], "--x"),
    C("mi", "wrong format", "strings", MI + ["--x", "@x_str.npy", "--y", "@y.npy"], "--x"),
    C("mi", "wrong format", "a folder", MI + ["--x", "@empty_dir", "--y", "@y.npy"], "--x"),
    C("mi", "non-UTF-8 file", "x", MI + ["--x", "@nonutf8.npy", "--y", "@y.npy"], "--x"),
    C("mi", "malicious pickle", "object npy", MI + ["--x", "@obj.npy", "--y", "@y.npy"], "--x"),
    C("mi", "wrong shape", "rows differ", MI + ["--x", "@x.npy", "--y", "@y_short.npy"], "--y"),
    C("mi", "wrong shape", "3-D", MI + ["--x", "@x_3d.npy", "--y", "@y.npy"], "--x"),
    C("mi", "wrong shape", "too few samples", MI + ["--x", "@x_tiny.npy", "--y", "@x_tiny.npy"], "--x"),
    C("mi", "nan-or-inf", "nan sample", MI + ["--x", "@x_nan.npy", "--y", "@y.npy"], "--x"),
    C("mi", "nan-or-inf", "inf sample", MI + ["--x", "@x_inf.npy", "--y", "@y.npy"], "--x"),
    C("mi", "huge", "ksg k above n", ["mi", "--estimator", "ksg", "--k", "1000", "--x", "@x.npy", "--y", "@y.npy"],
      "k"),
    C("mi", "zero", "k", ["mi", "--estimator", "ksg", "--k", "0", "--x", "@x.npy", "--y", "@y.npy"], "--k"),
    C("mi", "non-numeric", "k", ["mi", "--k", "three", "--x", "@x.npy", "--y", "@y.npy"], "--k"),
    C("mi", "negative", "batch size", ["mi", "--batch-size", "-1", "--x", "@x.npy", "--y", "@y.npy"], "--batch-size"),
    C("mi", "nan-or-inf", "steps", ["mi", "--steps", "inf", "--x", "@x.npy", "--y", "@y.npy"], "--steps"),
    C("mi", "unknown name", "estimator", ["mi", "--estimator", "magic", "--x", "@x.npy", "--y", "@y.npy"],
      "--estimator"),
    C("mi", "unknown name", "preset", ["mi", "--validate", "--preset", "huge"], "--preset"),
    C("mi", "conflicting", "validate with x", ["mi", "--validate", "--x", "@x.npy"], "--validate"),
    C("mi", "wrong format", "validate out is a file", ["mi", "--validate", "--preset", "smoke", "--out", "@a_file"],
      "--out"),
    # --------------------------------------------------------------- repro
    C("repro", "unknown name", "preset", ["repro", "--preset", "huge"], "--preset"),
    C("repro", "unknown name", "device", ["repro", "--device", "tpu"], "--device"),
    C("repro", "zero", "workers", ["repro", "--workers", "0"], "--workers"),
    C("repro", "negative", "workers", ["repro", "--workers", "-2"], "--workers"),
    C("repro", "non-numeric", "workers", ["repro", "--workers", "two"], "--workers"),
    C("repro", "nan-or-inf", "workers", ["repro", "--workers", "nan"], "--workers"),
    C("repro", "wrong format", "out is a file", ["repro", "--preset", "smoke", "--out", "@a_file"], "--out"),
]


# ------------------------------------------------------------------------------------------- harness

def snapshot(folder: Path) -> dict:
    """{relative path: (size, mtime_ns, is_dir)} of everything under ``folder``."""
    out = {}
    for p in sorted(folder.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(folder))] = (st.st_size, st.st_mtime_ns, p.is_dir())
    return out


def expand(argv: list[str], files: dict[str, Path], folder: Path) -> list[str]:
    out = []
    for a in argv:
        if a == "@missing":
            out.append(str(folder / "missing" / "no_such_file.npy"))
        elif a.startswith("@"):
            out.append(str(files[a[1:]]))
        else:
            out.append(a)
    return out


def call_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run ``lrkd argv`` in this process; (exit status, stdout, stderr). An exception escaping ``cli`` is a
    traceback in real life, so it propagates and fails the test."""
    try:
        rc = paper_repro.cli(list(argv))
    except SystemExit as exc:  # argparse
        rc = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return rc, out, err


def assert_usage_error(rc: int, out: str, err: str, argv: list[str], needle: str | None) -> None:
    lines = err.strip().splitlines()
    assert rc == 2, f"exit {rc} for {argv}\nstdout: {out[-500:]}\nstderr: {err[-2000:]}"
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{err}"
    cmd = argv[0] if argv and argv[0] in paper_repro.COMMANDS else None
    # argparse reports arguments no subcommand took at the top level: "lrkd: error: unrecognized arguments"
    assert lines[0].startswith((f"lrkd {cmd}: error: " if cmd else "lrkd: error: ",
                                "lrkd: error: unrecognized arguments: ")), lines[0]
    assert out == "", f"stdout should be empty, got {out[:300]!r}"
    if needle:
        assert needle.lower() in lines[0].lower(), f"{needle!r} not named in: {lines[0]}"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad_inputs")
    return d, make_files(d)


@pytest.fixture
def workdir(tmp_path, monkeypatch, files):
    """An empty working folder (cwd) with $LRKD_CACHE inside it: anything written shows in its snapshot."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LRKD_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.parametrize("argv,needle", CASES)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(argv, needle, files, workdir, capsys):
    folder, paths = files
    argv = expand(argv, paths, folder)
    before_in, before_cwd = snapshot(folder), snapshot(workdir)
    rc, out, err = call_cli(argv, capsys)
    assert_usage_error(rc, out, err, argv, needle)
    assert snapshot(workdir) == before_cwd, "something was written to the working folder"
    assert snapshot(folder) == before_in, "an input folder was modified"
    assert not (workdir / "PWNED").exists() and not (folder / "PWNED").exists()


# A representative sample, in real subprocesses: what a user's shell sees (exit status, stderr bytes).
SUBPROCESS_SAMPLE = ["lrkd/unknown name/command", "rank/non-numeric/samples", "rank/truncated file/spectrum npy",
                     "rank/malicious pickle/spectrum pt", "rank/non-UTF-8 file/teacher config",
                     "bounds/code injection/value", "tightness/non-UTF-8 file/csv", "mi/wrong shape/rows differ",
                     "repro/zero/workers", "tightness/empty file/folder with empty runs.csv"]


@pytest.mark.parametrize("argv,needle", [c for c in CASES if c.id in SUBPROCESS_SAMPLE])
def test_bad_input_in_a_real_subprocess(argv, needle, files, tmp_path):
    folder, paths = files
    argv = expand(argv, paths, folder)
    before = snapshot(tmp_path)
    proc = _run_with_cache(argv, tmp_path, tmp_path / "cache")
    assert_usage_error(proc.returncode, proc.stdout, proc.stderr, argv, needle)
    assert snapshot(tmp_path) == before
    assert not (tmp_path / "PWNED").exists()


def _run_with_cache(argv, cwd, cache):
    old = os.environ.get("LRKD_CACHE")
    os.environ["LRKD_CACHE"] = str(cache)
    try:
        return run_lrkd(*argv, cwd=cwd, timeout=120)
    finally:
        if old is None:
            os.environ.pop("LRKD_CACHE", None)
        else:
            os.environ["LRKD_CACHE"] = old


def test_non_utf8_argv_bytes_in_a_real_subprocess(tmp_path):
    """Raw bytes that are not UTF-8 on the command line (a Latin-1 file name, a mangled number)."""
    import subprocess
    import sys

    code = "import sys, paper_repro; sys.exit(paper_repro.cli(sys.argv[1:]))"
    env = dict(os.environ, PYTHONPATH=str(ROOT_DIR), LRKD_CACHE=str(tmp_path / "cache"))
    for argv, needle in (([b"rank", b"--shape", b"8", b"8", b"--samples", b"\xff\xfe10"], b"--samples"),
                         ([b"rank", b"--shape", b"8", b"8", b"--samples", b"10", b"--spectrum", b"caf\xe9.npy"],
                          b"spectrum"),
                         ([b"mi", b"--x", b"\xe9.npy", b"--y", b"y.npy"], b"--x")):
        proc = subprocess.run([sys.executable.encode(), b"-c", code.encode(), *argv], cwd=tmp_path, env=env,
                              capture_output=True, timeout=120)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and b"Traceback" not in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_every_command_has_bad_input_cases():
    """The table covers every subcommand of the dispatcher (teacher/distill/bench: see test_bad_input_train)."""
    covered = {c.id.split("/")[0] for c in CASES}
    assert set(paper_repro.COMMANDS) - {"teacher", "distill", "bench"} <= covered


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


# ------------------------------------------------------------------------------------------- huge finite data

def _spectrum_matrix(scale: float) -> np.ndarray:
    """A 40 x 30 matrix with singular values k^-1 (k = 1..30) times ``scale`` (Haar factors, fixed seed)."""
    rng = np.random.default_rng(3)
    u, _ = np.linalg.qr(rng.standard_normal((40, 30)))
    v, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    return (u * (scale * np.arange(1, 31) ** -1.0)) @ v.T


SCALE_INVARIANT = ("gavish-donoho", "effective-rank", "energy-")


@pytest.mark.parametrize("scale", [1e-300, 1e300], ids=["tiny", "huge"])
def test_rank_of_an_extreme_but_finite_matrix_equals_the_unscaled_answer(scale, tmp_path, workdir, capsys):
    """Gavish-Donoho, effective and energy ranks are invariant under W -> cW; at c = 1e+-300 the squares of
    the singular values under/overflow, which must not change the answer (or must be refused in one line)."""
    np.save(tmp_path / "w1.npy", _spectrum_matrix(1.0))
    np.save(tmp_path / "wc.npy", _spectrum_matrix(scale))
    base = ["rank", "--samples", "1000", "--shape", "40", "30", "--boot", "20", "--json", "--spectrum"]
    rc1, out1, err1 = call_cli(base + [str(tmp_path / "w1.npy")], capsys)
    assert rc1 == 0, err1
    rc, out, err = call_cli(base + [str(tmp_path / "wc.npy")], capsys)
    if rc != 0:
        assert_usage_error(rc, out, err, base, "wc.npy")
        return
    ref = {r["method"]: r["rank"] for r in json.loads(out1)["recommendations"] if r["method"].startswith(SCALE_INVARIANT)}
    got = {r["method"]: r["rank"] for r in json.loads(out)["recommendations"] if r["method"].startswith(SCALE_INVARIANT)}
    assert ref and got == ref


@pytest.mark.parametrize("estimator", ["gaussian", "ksg"])
@pytest.mark.parametrize("scale", [1e-300, 1e300], ids=["tiny", "huge"])
def test_mi_of_extreme_but_finite_samples_equals_the_unscaled_estimate(estimator, scale, tmp_path, workdir, capsys):
    """MI is invariant under x -> c x; so is every estimator here (Gaussian/CCA, KSG with the max-norm).
    Samples at 1e+-300 must give the unscaled estimate (or a one-line refusal), never a wrong error or NaN."""
    np.save(tmp_path / "x1.npy", GOOD_X)
    np.save(tmp_path / "xc.npy", GOOD_X * scale)
    np.save(tmp_path / "y.npy", GOOD_Y)
    base = ["mi", "--estimator", estimator, "--json", "--y", str(tmp_path / "y.npy"), "--x"]
    rc1, out1, err1 = call_cli(base + [str(tmp_path / "x1.npy")], capsys)
    assert rc1 == 0, err1
    rc, out, err = call_cli(base + [str(tmp_path / "xc.npy")], capsys)
    if rc != 0:
        assert_usage_error(rc, out, err, base, "--x")
        assert "collinear" not in err  # a wrong reason is worse than none
        return
    assert json.loads(out)["mi"] == pytest.approx(json.loads(out1)["mi"], rel=1e-6, abs=1e-9)


# ------------------------------------------------------------------------------------------- hypothesis: parsers

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

#: what a user might type where a number is expected
NUMBER_TEXT = st.one_of(
    st.text(max_size=12),
    st.integers(-10**30, 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(lambda x: f"{x:.3e}"),
    st.sampled_from(["1e999", "-1e999", "1e-999", "-0", "0x10", " 5", "5 ", "1_000", "\u0665", "\uff15", "٣.5",
                     "NaN", "-Infinity", "+inf", "1e308", "4.9e-324", "2**10", "1/2", "--json", "", " "]),
)


def _check_number_flag(cmd_argv: list[str], flag: str, text: str, capsys) -> tuple[int, str]:
    argv = [*cmd_argv, f"{flag}={text}"]
    rc, out, err = call_cli(argv, capsys)
    assert rc in (0, 2), (argv, rc, err)
    if rc == 2:
        assert_usage_error(rc, out, err, argv, flag)
    return rc, out


RANK_FLAGS = {"--samples": ["rank", "--shape", "8", "8", "--alpha", "1"],
              "--alpha": ["rank", "--shape", "8", "8", "--samples", "100"],
              "--scale": ["rank", "--shape", "8", "8", "--samples", "100", "--alpha", "1"],
              "--c": ["rank", "--shape", "8", "8", "--samples", "100", "--alpha", "1"],
              "--epsilon": ["rank", "--shape", "8", "8", "--samples", "100", "--alpha", "1"],
              "--noise-sigma": ["rank", "--shape", "8", "8", "--samples", "100", "--alpha", "1"]}


@pytest.mark.parametrize("flag", list(RANK_FLAGS))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=NUMBER_TEXT)
def test_rank_number_flags_accept_only_valid_values_and_answer_in_range(flag, text, capsys):
    """Any text for a number: exit 2 naming the flag, or an answer whose every rank is an integer in
    [0, min(M, D)] and every real-valued rank finite and >= 0 (no silent NaN written as JSON null)."""
    rc, out = _check_number_flag([*RANK_FLAGS[flag], "--json"], flag, text, capsys)
    if rc == 0:
        res = json.loads(out)
        for row in res["recommendations"]:
            assert isinstance(row["rank"], int) and 0 <= row["rank"] <= 8, row
            if "rank_real" in row:
                assert row["rank_real"] is not None and row["rank_real"] >= 0, row


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(["B", "p", "N", "rho", "R", "delta"]), text=NUMBER_TEXT)
def test_bounds_eval_values_give_a_number_or_one_line(name, text, capsys):
    """`lrkd bounds --eval G2 name=TEXT`: exit 2 naming the argument, or a value that is a number (a finite
    input never comes back as JSON null, i.e. a silent NaN)."""
    point = {"B": "5", "p": "1e6", "N": "1e4", "rho": "1", "R": "10", "delta": "0.05", name: text}
    argv = ["bounds", "--eval", "G2", "--json", *[f"{k}={v}" for k, v in point.items()]]
    rc, out, err = call_cli(argv, capsys)
    assert rc in (0, 2), (argv, err)
    if rc == 2:
        assert_usage_error(rc, out, err, argv, None)
        assert name in err.split("error:", 1)[1] or "=" in text, err
        return
    value = json.loads(out)["value"]
    assert isinstance(value, float) and value > 0, (argv, value)


def _stub_run(module_name: str, monkeypatch, seen: list):
    import importlib

    module = importlib.import_module(module_name)
    monkeypatch.setattr(module, "run", lambda args: seen.append(args) or 0)


PARSE_ONLY = {  # (command argv, flag, parsed attribute, module whose run() is stubbed)
    "mi --k": (["mi", "--x", "a.npy", "--y", "b.npy"], "--k", "k", "empirical.commands.mi"),
    "mi --batch-size": (["mi", "--x", "a.npy", "--y", "b.npy"], "--batch-size", "batch_size", "empirical.commands.mi"),
    "mi --steps": (["mi", "--x", "a.npy", "--y", "b.npy"], "--steps", "steps", "empirical.commands.mi"),
    "rank --boot": (["rank", "--samples", "5", "--shape", "2", "2"], "--boot", "boot", "empirical.commands.rank"),
    "rank --shape": (["rank", "--samples", "5", "--shape", "2"], "--shape", "shape", "empirical.commands.rank"),
}


@pytest.mark.parametrize("case", list(PARSE_ONLY))
@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=NUMBER_TEXT)
def test_positive_integer_flags_parse_to_positive_integers(case, text, capsys, monkeypatch):
    """The parser layer alone (run() stubbed): a value is either refused in one line naming the flag, or
    parsed to an int >= 1 equal to the integer the text spells."""
    argv, flag, attr, module = PARSE_ONLY[case]
    seen: list = []
    _stub_run(module, monkeypatch, seen)
    if flag == "--shape":  # the second of M D
        argv = [*argv, text]
        rc, out, err = call_cli(argv, capsys)
        if rc == 2:
            assert_usage_error(rc, out, err, argv, None)
            return
        value = seen[-1].shape[1]
    else:
        rc, _ = _check_number_flag(argv, flag, text, capsys)
        if rc == 2:
            return
        value = getattr(seen[-1], attr)
    assert isinstance(value, int) and value >= 1
    assert value == int(text.strip().replace("_", ""))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=NUMBER_TEXT)
def test_repro_workers_parse_or_refuse(text, capsys, monkeypatch, tmp_path):
    """``lrkd repro --workers TEXT`` with the pipeline stubbed: refused in one line, or >= 1 reaches it."""
    seen: list = []
    monkeypatch.setattr(paper_repro, "pipeline", lambda **kw: seen.append(kw) or 0)
    monkeypatch.chdir(tmp_path)
    rc, _ = _check_number_flag(["repro", "--preset", "smoke"], "--workers", text, capsys)
    if rc == 0:
        assert isinstance(seen[-1]["workers"], int) and seen[-1]["workers"] >= 1
    assert list(tmp_path.iterdir()) == []
