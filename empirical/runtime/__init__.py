"""Where code runs: device choice and bf16 autocast (``device``), CUDA settings (``gpu``), the fused AdamW every
loop builds (``optim``), and the one loader of PyTorch weight files (``weights_io``).

Layer: the bottom of the torch side. May import: torch, numpy, :mod:`bounds` (errors), nothing else of
:mod:`empirical`.
"""
