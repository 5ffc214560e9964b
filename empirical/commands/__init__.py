"""Every ``lrkd`` subcommand but ``repro`` (which is ``paper_repro.py`` itself), one module each: the torch-free
``rank``, ``bounds`` and ``tightness`` (they import only :mod:`bounds`, numpy and pandas, so ``lrkd rank`` stays
sub-second) and the torch-side ``teacher``, ``distill``, ``mi`` and ``bench``, plus the latter's shared arguments and
checks (``common``). Each exposes ``configure(parser)`` and ``run(args) -> int``; the table
that maps subcommands to modules is ``paper_repro.COMMANDS``.

Layer: the top of :mod:`empirical`: may import anything below it, :mod:`bounds` and :mod:`figures`; nothing in
:mod:`empirical` imports a command.
"""
