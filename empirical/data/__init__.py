"""Text: the corpus (CPython's bundled ``pydoc_data.topics`` or a user's UTF-8 file) cut into byte sequences and
split disjointly into teacher / held-out / student parts (``corpus``).

Layer: above :mod:`empirical.config`; may import torch, :mod:`bounds` (errors) and :mod:`empirical.config`.
"""
