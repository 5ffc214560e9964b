"""Performance models and measurements: FLOP counts, matmul peak and MFU of the teacher and LRC steps (``mfu``).

Layer: above training (it times the training steps); below the commands.
"""
