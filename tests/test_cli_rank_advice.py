"""`lrkd rank` as a practitioner uses it: counts as written, the headline first (never rank 0), reference scaling,
adapters, per-matrix allocation, pilot plans, calibration; bad inputs exit 2 with one line."""
import json

import numpy as np
import pytest
from conftest import run_lrkd

LLAMA_1B = {"model_type": "llama", "hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 16,
            "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": True}


@pytest.fixture
def llama(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(LLAMA_1B))
    return str(path)


def _ok(*args):
    proc = run_lrkd("rank", *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _bad(*args, needle=None):
    proc = run_lrkd("rank", *args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("lrkd rank")
    if needle:
        assert needle in proc.stderr, proc.stderr
    return proc.stderr


@pytest.mark.parametrize("text", ["2e6", "2M", "2000000", "2000k"])
def test_samples_as_written_give_the_same_answer(text):
    out = json.loads(_ok("--samples", text, "--shape", "64", "64", "--alpha", "1", "--json"))
    assert out["inputs"]["samples"] == 2_000_000 and out["inputs"]["N_unit"] == "sequences"


def test_tokens_per_sample_converts_and_the_output_says_the_unit(llama):
    text = _ok("--samples", "2M", "--unit", "tokens", "--tokens-per-sample", "2048", "--teacher-config", llama)
    assert "2M tokens" in text.splitlines()[0] and "sequences" in text.splitlines()[0]
    out = json.loads(_ok("--samples", "2M", "--unit", "tokens", "--tokens-per-sample", "2048",
                         "--teacher-config", llama, "--alpha", "1", "--json"))
    assert out["inputs"]["N_formulas"] == pytest.approx(2e6 / 2048)


def test_without_constants_no_rank_is_recommended_and_zero_is_never_printed(llama):
    text = _ok("--samples", "2M", "--teacher-config", llama, "--alpha", "1")
    first = text.splitlines()[0]
    assert first.startswith("recommended rank: none") and "--reference" in first
    table = [line.split() for line in text.splitlines() if line.startswith(("R1/", "R2/"))]
    assert table and all(cols[1] == "-" for cols in table)
    assert "scaling only: constants unknown" in text


def test_llama_example_reference_headline(llama):
    """README example: LRC's 1536 at 20B tokens carried to 2M tokens; non-zero headline with an interval."""
    out = json.loads(_ok("--samples", "2M", "--unit", "tokens", "--teacher-config", llama, "--reference",
                         "1536@20B", "--alpha", "1", "--json"))
    head = out["headline"]
    ranks = {r["method"]: r["rank"] for r in out["reference"]}
    expected = {f: round(1536 * 1e-4 ** g) for f, g in (("paper", 0.25), ("covering", 1 / 3), ("fast", 0.5))}
    assert {f: ranks[f"reference/R1/{f}"] for f in expected} == expected
    assert head["rank"] == sorted(expected.values())[1] and head["interval"] == [min(expected.values()),
                                                                                 max(expected.values())]
    assert head["line"].startswith(f"recommended rank: {head['rank']} [")
    conv = {c["adapter"]: c for c in out["conversions"]["to"]}
    assert set(conv) == {"lora", "svd"} and conv["lora"]["params"] <= out["headline"]["params"]


def test_lora_adapter_counts_targets(llama):
    out = json.loads(_ok("--samples", "2M", "--teacher-config", llama, "--adapter", "lora", "--targets",
                         "q_proj,v_proj", "--reference", "16@200M", "--json"))
    # q: 2048x2048, v: 512x2048 (8 KV heads of 64) per layer, 16 layers
    assert out["inputs"]["params_per_rank"] == 16 * ((2048 + 2048) + (512 + 2048))
    assert out["headline"]["rank"] >= 1


def test_allocation_json_has_a_rank_pattern(tmp_path):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    tensors = {"layers.0.q.weight": rng.normal(size=(16, 12)).astype(np.float32),
               "layers.0.v.weight": (rng.normal(size=(16, 2)) @ rng.normal(size=(2, 12))).astype(np.float32),
               "embed.weight": rng.normal(size=(50, 12)).astype(np.float32)}
    save_file(tensors, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 12, "num_hidden_layers": 1}))
    out = json.loads(_ok("--samples", "1000", "--shape", "16", "12", "--allocate", str(tmp_path),
                         "--budget-params", "168", "--json"))
    alloc = out["allocation"]
    assert set(alloc["rank_pattern"]) <= {"layers.0.q", "layers.0.v"}
    assert alloc["rank_pattern"]["layers.0.v"] <= 2 < alloc["rank_pattern"]["layers.0.q"]  # v has rank 2
    assert alloc["params"] <= 168 and alloc["tail_energy"] <= alloc["uniform_tail_energy"]


def test_plan_pilot_lists_runs_a_calibration_can_use(llama):
    out = json.loads(_ok("--samples", "20B", "--unit", "tokens", "--teacher-config", llama, "--reference",
                         "1536@20B", "--alpha", "1", "--plan-pilot", "--json"))
    plan = out["pilot"]
    assert len(plan["samples"]) >= 4 and len(plan["ranks"]) >= 4 and plan["seeds"] >= 2
    assert max(plan["samples"]) < 20e9 and plan["relative_cost"] == pytest.approx(
        plan["seeds"] * len(plan["ranks"]) * sum(plan["samples"]) / 20e9)
    assert len(plan["runs"]) == len(plan["samples"]) * len(plan["ranks"]) * plan["seeds"]


@pytest.fixture
def bad_runs(tmp_path):
    head = "rank,samples,seed,train_loss,test_loss\n"
    (tmp_path / "empty.csv").write_text(head)
    (tmp_path / "neg.csv").write_text(head + "-4,100,0,0.5,0.6\n8,100,0,0.5,0.6\n")
    (tmp_path / "nan.csv").write_text(head + "4,100,0,0.5,nan\n")
    (tmp_path / "zero_loss.csv").write_text(head + "4,100,0,0.5,0\n")
    return tmp_path


@pytest.mark.parametrize("argv, needle", [
    (["--samples", "1.5M.", "--shape", "8", "8"], "--samples"),
    (["--samples", "1.5", "--shape", "8", "8"], "--samples"),
    (["--samples", "2Q", "--shape", "8", "8"], "--samples"),
    (["--samples", "2M", "--shape", "8", "8", "--reference", "0@1M"], "--reference"),
    (["--samples", "2M", "--shape", "8", "8", "--reference", "12"], "--reference"),
    (["--samples", "2M", "--shape", "8", "8", "--reference", "12@-1"], "--reference"),
    (["--samples", "2M", "--shape", "8", "8", "--adapter", "lrc"], "--adapter"),
    (["--samples", "2M", "--shape", "8", "8", "--tokens-per-sample", "0"], "--tokens-per-sample"),
    (["--samples", "2M", "--shape", "8", "8", "--unit", "bytes"], "--unit"),
    (["--samples", "2M", "--shape", "8", "8", "--budget-fraction", "0.1"], "--allocate"),
    (["--samples", "2M", "--shape", "8", "8", "--allocate", "/nonexistent", "--budget-fraction", "0.1"], "not found"),
    (["--samples", "2M", "--shape", "8", "8", "--allocate", "{d}", "--budget-fraction", "1.5"], "--budget-fraction"),
    (["--samples", "2M", "--shape", "8", "8", "--track", "x"], "--calibrate"),
    (["--samples", "2M", "--calibrate", "{d}/empty.csv"], "no rows"),
    (["--samples", "2M", "--calibrate", "{d}/neg.csv"], "positive integer"),
    (["--samples", "2M", "--calibrate", "{d}/nan.csv"], "empty value"),
    (["--samples", "2M", "--calibrate", "{d}/zero_loss.csv"], "positive"),
    (["--samples", "2M", "--calibrate", "{d}/missing.csv"], "no such file"),
])
def test_bad_inputs_exit_2_with_one_line(argv, needle, bad_runs):
    _bad(*[a.format(d=bad_runs) for a in argv], needle=needle)


def test_targets_unknown_module(llama):
    _bad("--samples", "2M", "--teacher-config", llama, "--adapter", "lora", "--targets", "qq_proj", needle="qq_proj")


def test_calibrate_refuses_an_unidentifiable_pilot_in_the_headline(tmp_path):
    rows = ["rank,samples,seed,train_loss,test_loss"]
    for n in (100, 400):
        for s in (0, 1):
            for r in (1, 2, 4, 8, 16):
                rows.append(f"{r},{n},{s},0.5,{1 + 1 / r + r / n ** 0.5:.6f}")
    (tmp_path / "two_n.csv").write_text("\n".join(rows) + "\n")
    text = _ok("--samples", "1M", "--calibrate", str(tmp_path / "two_n.csv"), "--boot", "10")
    assert "calibration: refused" in text and "2 sample size(s)" in text and "add runs" in text


def test_calibrate_with_a_spectrum_ignores_its_scale(tmp_path):
    """`--calibrate RUNS --spectrum S` fits the measured tail; the spectrum x 1000 gives the same answer."""
    sv = np.arange(1, 129, dtype=float) ** -0.8
    tails = np.concatenate([np.cumsum((sv**2)[::-1])[::-1], [0.0]])
    rng = np.random.default_rng(3)
    rows = ["rank,samples,seed,train_loss,test_loss"]
    for n in (256, 1024, 4096, 16384):
        for s in range(3):
            shift = rng.normal(0, 0.01)
            for r in (1, 2, 4, 8, 16, 32, 64):
                rows.append(f"{r},{n},{s},0.5,{(1 + 3 * tails[r] + r / n ** 0.5) * np.exp(shift):.8f}")
    (tmp_path / "pilot.csv").write_text("\n".join(rows) + "\n")
    heads = []
    for scale in (1.0, 1000.0):
        np.save(tmp_path / "sv.npy", sv * scale)
        out = json.loads(_ok("--calibrate", str(tmp_path / "pilot.csv"), "--spectrum", str(tmp_path / "sv.npy"),
                             "--shape", "128", "128", "--samples", "100k", "--boot", "20", "--json"))
        assert out["calibration"]["ok"] and out["calibration"]["tail"] == "measured"
        heads.append((out["headline"]["rank"], out["headline"]["interval"]))
    assert heads[0] == heads[1] and heads[0][0] >= 1


def test_user_constants_make_r1_the_headline():
    """With --c and --scale given, R1 is an answer (median over rate forms); the same call without them is not."""
    base = ["--samples", "10000", "--shape", "300", "200", "--alpha", "1", "--json"]
    given = json.loads(_ok(*base, "--c", "0.01", "--scale", "1"))
    r1 = sorted(r["rank"] for r in given["recommendations"] if r["method"].startswith("R1/"))
    assert given["headline"]["rank"] == r1[1] and given["headline"]["interval"] == [r1[0], r1[-1]]
    assert json.loads(_ok(*base))["headline"]["rank"] is None


def test_allocate_with_a_calibration_chooses_the_budget_by_the_variance_term(tmp_path):
    """Uniform-rank pilot runs on a small model, planted from A * total tail(r) + C p(r) N^-1/2: --allocate with
    --calibrate spends a budget that grows with N and beats uniform at the parameters it spends."""
    from safetensors.numpy import save_file

    from bounds.allocate import tail_energies, total_tail_function

    rng = np.random.default_rng(1)
    mats = {f"layers.{i}.{n}.weight": (rng.normal(size=(48, 48)) * np.arange(1, 49) ** -s).astype(np.float32)
            for i, (n, s) in enumerate((("q", 1.2), ("v", 0.4)))}
    save_file(mats, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 48, "num_hidden_layers": 2}))
    tails = [tail_energies(np.linalg.svd(m.astype(float), compute_uv=False)) for m in mats.values()]
    tail, params = total_tail_function(tails, [96, 96])
    rows = ["rank,samples,seed,train_loss,test_loss"]
    for n in (1000, 4000, 16000, 64000):
        for s in range(3):
            shift = rng.normal(0, 0.005)
            for r in (1, 2, 4, 8, 16, 32):
                loss = 0.5 + 0.05 * tail(r) / tail(0) + 0.02 * params(r) * n ** -0.5 / 96
                rows.append(f"{r},{n},{s},0.4,{loss * np.exp(shift):.8f}")
    (tmp_path / "pilot.csv").write_text("\n".join(rows) + "\n")
    spent = []
    for n in ("10k", "1M"):
        out = json.loads(_ok("--calibrate", str(tmp_path / "pilot.csv"), "--allocate", str(tmp_path), "--samples", n,
                             "--boot", "10", "--json"))
        alloc = out["allocation"]
        assert out["calibration"]["ok"] and alloc["mode"] == "calibrated variance"
        assert alloc["tail_energy"] <= alloc["uniform_tail_energy"] + 1e-9 and alloc["rank_pattern"]
        spent.append(alloc["params"])
    assert 0 < spent[0] < spent[1]
