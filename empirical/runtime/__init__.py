"""Where code runs: device choice and bf16 autocast (``device``), CUDA settings (``gpu``), the fused AdamW every
loop builds (``optim``), the one loader of PyTorch weight files (``weights_io``)
and the duration format of progress lines (``clock``).

Layer: the bottom of the torch side. May import: torch, numpy, :mod:`bounds` (errors), nothing else of
:mod:`empirical`.
"""
