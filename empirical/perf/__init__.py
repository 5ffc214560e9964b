"""Performance models and measurements: FLOP counts, matmul peak and MFU of the teacher and LRC steps (``mfu``), and the benchmarks ``lrkd bench`` runs (``bench``).

Layer: above training (it times the training steps); below the commands.
"""
