"""X-ray atomic form factors f(Q) of neutral atoms (Cromer–Mann fits, in electrons).

The coefficients are read once from the package data file ``xray_form_factors.json``.
"""
import json

import numpy as np

from .._resources import resource_path
from ..errors import StructureError

__all__ = ["xray_form_factor"]

_FORM_FACTOR_FILE = "xray_form_factors.json"
_COEFFICIENTS = None


def _coefficients():
    global _COEFFICIENTS
    if _COEFFICIENTS is None:
        with open(resource_path(_FORM_FACTOR_FILE)) as fh:
            _COEFFICIENTS = json.load(fh)
    return _COEFFICIENTS


def xray_form_factor(symbol, q):
    """X-ray atomic form factor f(Q) of a neutral atom, in electrons.

    International Tables Vol. C, Table 6.1.1.4 (Cromer–Mann):
    f = Σᵢ aᵢ exp(−bᵢ (Q/4π)²) + c, with Q = 4π sin θ / λ in Å⁻¹.

    Raises
    ------
    StructureError
        No coefficients for ``symbol`` (the message lists the elements available).
    """
    table = _coefficients()
    if symbol not in table or not isinstance(table[symbol], dict):
        known = ", ".join(k for k, v in table.items() if isinstance(v, dict))
        raise StructureError(
            f"no X-ray form factor for {symbol!r} (available: {known}; add its Cromer-Mann "
            f"coefficients to data/{_FORM_FACTOR_FILE})"
        )
    entry = table[symbol]
    s2 = (np.asarray(q, dtype=float) / (4.0 * np.pi)) ** 2
    return sum(a * np.exp(-b * s2) for a, b in zip(entry["a"], entry["b"])) + entry["c"]
