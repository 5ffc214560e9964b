"""Training and measuring: pure loss functions (``losses``), gradient-norm / beta / sigma^2 / activation
measurements (``measure``), the teacher's training loop and cache (``teacher_training``), the LRC objective and evaluation (``objective``),
LRC distillation (``distill``) and data-parallel hooks for both (``ddp``).

Layer: above data, models, runtime and cache; may import those, :mod:`empirical.config` and :mod:`bounds`.
"""
