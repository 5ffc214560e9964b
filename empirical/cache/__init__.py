"""Results on disk: the content-addressed :class:`~empirical.cache.store.ResultStore` (atomic writes, checksums)
and per-key ``flock`` locks (``locking``) so that concurrent sweeps compute each result once.

Layer: torch-free; may import the standard library, numpy and safetensors only.
"""
