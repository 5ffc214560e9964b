"""Every torch-side ``lrkd`` subcommand, one module each (``teacher``, ``distill``, ``mi``, ``bench``) plus their
shared arguments and checks (``common``). Each exposes ``configure(parser)`` and ``run(args) -> int``; the table
that maps subcommands to modules is ``paper_repro.COMMANDS``.

Layer: the top of :mod:`empirical`: may import anything below it, :mod:`bounds` and :mod:`figures`; nothing in
:mod:`empirical` imports a command.
"""
