"""Sample counts as written (2e6, 2M, 20B, 1.5k) and reference scaling r0 (N/N0)^gamma against its closed form."""
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bounds.rates import RATE_FORMS
from bounds.reference import Reference, parse_reference, reference_ranks, scaled_rank
from bounds.units import SampleCount, parse_count


@pytest.mark.parametrize("text, value", [("2000000", 2_000_000), ("2e6", 2_000_000), ("2M", 2_000_000),
                                         ("20B", 20_000_000_000), ("1.5k", 1500), ("1.5K", 1500), ("3G", 3 * 10**9),
                                         ("0.25M", 250_000), ("1e0", 1), (" 7 ", 7), ("2.5e3", 2500)])
def test_counts_people_write(text, value):
    assert parse_count(text) == value


@pytest.mark.parametrize("text", ["1.5", "0", "-3", "2X", "nan", "inf", "1e999", "", "M", "1.2345k", "1e-3", "2MB",
                                  "1" + "0" * 30])
def test_bad_counts_are_refused(text):
    with pytest.raises(ValueError):
        parse_count(text)


def test_sample_count_says_which_unit_the_formulas_read():
    n = SampleCount(2_000_000, "tokens", 2048)
    assert n.sequences == pytest.approx(2_000_000 / 2048) and n.formula_unit == "sequences"
    assert "tokens" in n.describe() and "sequences" in n.describe()
    raw = SampleCount(2_000_000, "tokens")
    assert raw.formula_n == 2_000_000 and "formulas read N in tokens" in raw.describe()
    assert SampleCount(100, "sequences", 10).tokens == 1000


def test_reference_parse():
    assert parse_reference("1536@20B") == Reference(1536, 20 * 10**9)
    for bad in ("1536", "0@1M", "x@1M", "12@", "12@-1"):
        with pytest.raises(ValueError):
            parse_reference(bad)


@pytest.mark.parametrize("alpha", [0.75, 1.0, 1.7])
def test_reference_scaling_equals_the_closed_form(alpha):
    """r0 (N/N0)^gamma with gamma = b/(2 alpha - 1 + a) (R1) and b/a (R2), computed here by hand."""
    ref, n = Reference(1536, 20 * 10**9), 2 * 10**6
    rows = {r.method: r for r in reference_ranks(ref, n, 10**6, alpha=alpha)}
    for form, (a, b) in RATE_FORMS.items():
        for method, gamma in ((f"reference/R1/{form}", b / (2 * alpha - 1 + a)), (f"reference/R2/{form}", b / a)):
            expected = 1536 * (n / 20e9) ** gamma
            assert rows[method].gamma == pytest.approx(gamma, rel=1e-12)
            assert rows[method].rank_real == pytest.approx(expected, rel=1e-9)
            assert rows[method].rank == max(1, round(expected))


def test_calibrated_gamma_interval_maps_through_the_closed_form():
    ref = Reference(100, 10**4)
    (row,) = reference_ranks(ref, 10**6, 10**5, forms=(), calibrated_gamma=0.5, calibrated_gamma_ci=(0.4, 0.6))
    assert row.rank == 1000 and row.rank_interval == (round(100 * 100**0.4), round(100 * 100**0.6))
    assert scaled_rank(ref, 10**4, 0.7) == pytest.approx(100)


def test_reference_never_recommends_rank_zero_and_respects_the_cap():
    rows = reference_ranks(Reference(2, 10**9), 10, 50, alpha=1.0)
    assert all(1 <= r.rank <= 50 for r in rows)
    rows = reference_ranks(Reference(40, 10), 10**9, 50, alpha=1.0)
    assert all(r.rank == 50 for r in rows)
    assert not math.isnan(rows[0].rank_real)


@given(st.text(max_size=12))
def test_any_text_is_a_count_in_range_or_a_value_error(text):
    try:
        value = parse_count(text)
    except ValueError:
        return
    assert isinstance(value, int) and 1 <= value <= 10**18


@given(st.integers(1, 10**6), st.sampled_from(["", "k", "M", "B"]))
def test_suffixes_multiply(n, suffix):
    assert parse_count(f"{n}{suffix}") == n * {"": 1, "k": 10**3, "M": 10**6, "B": 10**9}[suffix]
