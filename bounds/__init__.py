"""Symbolic bounds of docs/theory.md (C1, C2, G1-G3, R1-R3, I1-I3, Gaussian MI), derived with sympy and
evaluated through compiled numpy functions.

This package never imports torch. Importing it is cheap: submodules are imported on use.
"""
