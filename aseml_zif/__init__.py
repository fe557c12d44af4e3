"""aseml_zif: machine-learning interatomic potentials for amorphous ZIFs, from Python with ASE.

Implements the workflow of N. Castel, D. André, C. Edwards, J. D. Evans and F.-X. Coudert,
"Machine learning interatomic potentials for amorphous zeolitic imidazolate frameworks",
Digital Discovery 3, 355 (2024), doi:10.1039/D3DD00236E.
"""
from .errors import AsemlZifError

__version__ = "0.1.0"
__all__ = ["AsemlZifError", "load_potential", "convert_legacy_model", "__version__"]


def load_potential(path, device="auto", dtype=None, compile=False):
    """Load a deployed NequIP/Allegro model as an ASE calculator.

    See :func:`aseml_zif.calculator.load_potential` (imported lazily so that ``import
    aseml_zif`` does not pay for importing torch).
    """
    from .calculator import load_potential as _load

    return _load(path, device=device, dtype=dtype, compile=compile)


def convert_legacy_model(source, destination, dtype=None, progress=True):
    """Convert a legacy (nequip ≤ 0.6) NequIP model into a current nequip ``.nequip.zip``.

    See :func:`aseml_zif.calculator.convert_legacy_model` (imported lazily).
    """
    from .calculator import convert_legacy_model as _convert

    return _convert(source, destination, dtype=dtype, progress=progress)
