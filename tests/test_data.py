"""Data: the embedded corpus, the deterministic disjoint split, and one-line errors for bad corpora."""
import pytest
import torch

from bounds.cliutil import UsageError
from empirical.config import DataConfig
from empirical.data.corpus import load_corpus_bytes, make_splits


def test_embedded_corpus_is_real_text_of_expected_size():
    raw = load_corpus_bytes(None)
    assert 400_000 < len(raw) < 600_000
    assert b"def " in raw and b"the " in raw


def test_split_is_deterministic_disjoint_and_covers_the_corpus():
    cfg = DataConfig(context=64)
    s1, s2 = make_splits(cfg), make_splits(DataConfig(context=64, heldout_sequences=512))
    assert torch.equal(s1.teacher, s2.teacher)
    raw = load_corpus_bytes(None)
    chunks = [raw[i * 65:(i + 1) * 65] for i in range(len(raw) // 65)]
    n = len(set(chunks))  # distinct chunks (the docs repeat a few passages)
    parts = [s1.teacher, s1.heldout, s1.student_pool]
    assert sum(p.shape[0] for p in parts) == n
    assert s1.heldout.shape[0] == 512
    # rows are distinct chunks of the corpus: no chunk appears in two parts (compare by their bytes)
    keys = [set(map(bytes, p.to(torch.uint8).numpy())) for p in parts]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])
    # every row is a contiguous slice of the corpus at a multiple of 65
    row = bytes(s1.student_pool[0].to(torch.uint8).numpy())
    assert raw.find(row) % 65 == 0
    # a different seed shuffles differently
    s3 = make_splits(DataConfig(context=64, seed=1))
    assert not torch.equal(s3.teacher[:10], s1.teacher[:10])
    # ~7,100 sequences, teacher gets half (DESIGN)
    assert 7000 < n < 7300 and s1.teacher.shape[0] == n // 2


def test_student_train_is_nested_and_bounded():
    s = make_splits(DataConfig(context=64))
    assert torch.equal(s.student_train(32), s.student_train(128)[:32])
    with pytest.raises(UsageError, match=f"max N = {s.max_samples}"):
        s.student_train(s.max_samples + 1)
    assert s.max_samples >= 2048  # the DESIGN sweep reaches N = 2048


@pytest.mark.parametrize("content, match", [(b"", "empty"), (b"\xff\xfe\x00abc" * 50, "not UTF-8"),
                                            (b"hello world", "too short")])
def test_bad_corpora_raise_one_clear_error(tmp_path, content, match):
    p = tmp_path / "c.txt"
    p.write_bytes(content)
    with pytest.raises(UsageError, match=match):
        make_splits(DataConfig(corpus=str(p), context=16))


def test_missing_corpus_file(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        make_splits(DataConfig(corpus=str(tmp_path / "nope.txt")))
