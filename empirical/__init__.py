"""Models, training and measurement: real text, a LLaMA-style teacher, Low-Rank Clone students, a
synthetic linear track, and the quantities THEORY.md's checks need.

Importing the package is cheap: submodules (which import torch) are imported on use.
"""
