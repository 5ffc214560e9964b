"""The networks: the LLaMA-style teacher decoder (``teacher``) and the Low-Rank Clone student built on a frozen
teacher (``lrc``). No training concerns here.

Layer: may import torch and :mod:`empirical.config`.
"""
