"""Strict-JSON conversion: numpy scalars and arrays to Python values, NaN/inf to ``None``.

Used by ``--json`` output (:func:`bounds.cliutil.emit_json`) and by every stored record and manifest.
Imports only the standard library (math).
"""
from __future__ import annotations

import math


def jsonable(obj):
    """Recursively turn numpy scalars/arrays and non-finite floats into strict-JSON values (NaN/inf -> None)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):
        return jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
