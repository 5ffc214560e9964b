"""docs/theory.md is exactly the catalog's rendering now, `lrkd bounds --markdown` prints it, and nothing the
catalog or `lrkd bounds` shows cites files that are not in the repository (THEORY.md, SEED.md)."""
import re

import pytest
from conftest import ROOT, run_lrkd

from bounds import catalog, theory_doc


def test_committed_document_is_in_sync():
    assert theory_doc.TARGET == ROOT / "docs" / "theory.md"
    assert theory_doc.TARGET.read_text(encoding="utf-8") == theory_doc.generate(), \
        "docs/theory.md is stale: run `python -m bounds.theory_doc`"


def test_document_has_every_result_with_its_formula_and_reference():
    text = theory_doc.generate()
    for res in catalog.all_results(derived=True):
        assert res.latex in text, res.id
        assert res.statement in text or res.statement[:1].upper() + res.statement[1:] in text, res.id
    for res in catalog.all_results(derived=False):
        assert f"### {res.id} — {res.title}" in text
        assert res.reference in text
        for item in res.assumptions:
            assert f"- {item}" in text
    assert "arXiv 2603.22355" in text
    table = re.findall(r"^\| ([CGIR]) \| .+ \| .+ \|$", text, flags=re.M)
    assert table[:4] == ["C", "G", "I", "R"]


def test_markdown_flag_prints_the_document():
    proc = run_lrkd("bounds", "--markdown")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == theory_doc.TARGET.read_text(encoding="utf-8")


@pytest.mark.parametrize("flags", [("--markdown", "--all"), ("--markdown", "--eval", "G1")])
def test_markdown_misuse_is_one_line(flags):
    proc = run_lrkd("bounds", *flags)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


_MISSING_FILES = re.compile(r"(?<!docs/)THEORY\.md|SEED\.md|\bSEED\b|(?i:seed paper|seed's)")


def test_no_citation_of_missing_files():
    for res in catalog.all_results(derived=True):
        for text in (res.reference, res.title, res.statement, *res.assumptions):
            assert not _MISSING_FILES.search(text), (res.id, text)
    proc = run_lrkd("bounds", "--all")
    assert proc.returncode == 0
    assert not _MISSING_FILES.search(proc.stdout)
    assert not _MISSING_FILES.search(theory_doc.generate())
