"""The `lrkd` dispatcher: unknown commands and bad flags exit 2 with one line, no traceback."""
from conftest import run_lrkd


def test_unknown_command_is_one_line_exit_2():
    proc = run_lrkd("no-such-command")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_help_lists_every_command():
    import paper_repro
    proc = run_lrkd("--help")
    assert proc.returncode == 0
    for name in paper_repro.COMMANDS:
        assert name in proc.stdout
