"""The one exception for bad user input, shared by every layer: :class:`UsageError`.

A command reports it as one line on stderr and exits with status 2 (see :mod:`bounds.cliutil`); code below the
commands (data loading, device choice, config checks) raises it for input a user gave. Imports nothing.
"""
from __future__ import annotations


class UsageError(ValueError):
    """Bad input from a user: reported as one line on stderr, exit status 2."""
