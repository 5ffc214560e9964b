"""`lrkd bench`: the JSON carries the headline ratios; registry entries resolve; bad names exit 2.
No timed assertions (speed lives in the benchmark's output, not in tests)."""
import json
import math

import pytest
from conftest import run_lrkd


def test_bench_json_has_the_headline_ratios():
    proc = run_lrkd("bench", "--only", "teacher,lrc", "--repeats", "2", "--device", "cpu", "--json", "--threads", "1",
                    "--no-compile")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    t = out["teacher"]
    assert "compiled" not in t  # --no-compile skips the compiled variants
    # kernel time is a part of the step, so the kernel ceiling bounds the achieved fraction from above
    assert 0 < t["kernel_s"] <= t["step_s"] and t["kernel_ceiling_fraction"] >= t["fraction_of_peak"]
    assert t["param_matched_baseline"]["d_ff"] == 4 * t["config"]["d_model"]
    assert t["wide"]["config"]["d_model"] == 4 * t["config"]["d_model"]
    # 16x the matmul FLOPs per token at 4x width: the wide step counts far more FLOPs
    assert t["wide"]["flops_per_step"] > 8 * t["flops_per_step"]
    for key in [("teacher", "fraction_of_peak"), ("teacher", "speedup_vs_torch_baseline"),
                ("lrc", "time_per_token_vs_teacher"), ("matmul", "flops_per_s")]:
        v = out[key[0]][key[1]]
        assert isinstance(v, float) and math.isfinite(v) and v > 0, key
    assert 0 < out["teacher"]["fraction_of_peak"] < 1.5
    # FLOPs per step agree with the independent count of empirical.perf.mfu (one formula, not retyped)
    from empirical.config import TeacherConfig
    from empirical.perf.mfu import teacher_step_flops
    assert out["teacher"]["flops_per_step"] == teacher_step_flops(TeacherConfig(), 32)


def test_registry_entries_resolve_without_running():
    from empirical.commands import bench as cli_bench
    for name, entry in cli_bench.BENCHMARKS.items():
        try:
            fn, _ = cli_bench._resolve(entry)
        except ImportError:
            pytest.skip(f"{name}: optional module missing")
        assert callable(fn)


def test_unknown_benchmark_is_one_line_exit_2():
    proc = run_lrkd("bench", "--only", "nope")
    assert proc.returncode == 2 and "unknown benchmark" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_quick_sized_runs_peak_under_2_gib():
    from empirical.commands import bench as cli_bench
    out = cli_bench.bench_memory({"device": "cpu"})
    assert out["under_2GiB"], out


def test_ksg_headline_reports_its_numbers():
    """The text line of the `ksg` entry names its timing and its agreement with scikit-learn (it printed nothing
    before: its results are nested dicts)."""
    from empirical.commands.bench import _headline
    line = _headline("ksg", {"ksg_32x32": {"dims": "32+32", "n": 10000, "seconds_median": 6.2, "speedup_vs_kdtree": 6.6},
                             "sklearn_1d": {"max_abs_diff": 1.8e-15, "time_ratio_sklearn_over_ours": 0.84}})
    assert "32+32" in line and "6.2 s" in line and "6.6x" in line and "1.8e-15" in line and "0.84" in line


def test_sweep_bench_after_recipe_is_the_quick_presets():
    """`lrkd bench`'s sweep entry times the quick transformer track's recipe (copied by hand: perf sits below
    sweep in the layers): every field it sets equals the quick preset's configs'."""
    from empirical import sweep
    from empirical.perf.bench import SWEEP_RECIPES
    from empirical.sweep import runners
    cfgs = [c for c in sweep.plan("quick") if runners.track_of(c) == "transformer"]
    after = dict(SWEEP_RECIPES["after"])
    assert after.pop("rank") in {c.rank for c in cfgs} and after.pop("samples") in {c.samples for c in cfgs}
    for k, v in after.items():
        assert {getattr(c, k) for c in cfgs} == {v}, k
    assert SWEEP_RECIPES["before"]["steps"] != after["steps"]  # before is another recipe, not a copy


def test_sweep_headline_reports_before_and_after():
    from empirical.commands.bench import _headline
    r = {"students_per_cpu_minute": {"before": 3.0, "after": 9.0}, "speedup": 3.0,
         "before": {"cpu_s_per_student": 20.0}, "after": {"cpu_s_per_student": 6.67}}
    line = _headline("sweep", r)
    assert "before 3" in line and "after 9" in line and "3x" in line and "20 -> 6.67" in line
