"""An ASE CP2K calculator set up as the reference method of Castel et al. (2024).

Reference method (Castel et al., Digital Discovery 3, 355 (2024), Sec. 2.1, and the authors'
CP2K inputs): Quickstep GPW, PBE, Grimme D3 with zero damping (``PAIR_POTENTIAL`` ``DFTD3``,
R_CUTOFF 16 Å), DZVP-GTH-PBE basis for C, H, N and DZVP-MOLOPT-SR-GTH for Zn, GTH-PBE
pseudopotentials with 4/1/5/12 valence electrons, plane-wave CUTOFF 600 Ry with REL_CUTOFF
40 Ry on 4 grids, OT/DIIS with FULL_SINGLE_INVERSE, EPS_SCF 1e-5, EPS_DEFAULT 1e-7; in their AIMD
H carried the deuterium mass 2.014 (NVT CSVR 1000 fs, 0.5 fs steps).

The published runs used ``STRESS_TENSOR DIAGONAL_ANALYTICAL`` (diagonal only); here ASE asks
for the full analytical tensor so that stress labels have off-diagonal components. One
single point of the 272-atom ZIF-4 cell takes about half an hour on 2 cores: this is meant
for a cluster, with :func:`aseml_zif.data.label`.
"""
__all__ = ["cp2k_calculator", "cp2k_settings", "REFERENCE_INPUT"]

#: CP2K input sections of the reference method, given to ASE's ``CP2K(inp=...)``.
REFERENCE_INPUT = """
&FORCE_EVAL
  &DFT
    BASIS_SET_FILE_NAME BASIS_SET
    BASIS_SET_FILE_NAME BASIS_MOLOPT
    POTENTIAL_FILE_NAME POTENTIAL
    &SCF
      MAX_SCF 200
      EPS_SCF 1.0E-5
      SCF_GUESS RESTART
      &OT ON
        MINIMIZER DIIS
        PRECONDITIONER FULL_SINGLE_INVERSE
      &END OT
    &END SCF
    &QS
      EPS_DEFAULT 1.0E-7
    &END QS
    &MGRID
      NGRIDS 4
      CUTOFF 600
      REL_CUTOFF 40
    &END MGRID
    &XC
      &XC_FUNCTIONAL PBE
      &END XC_FUNCTIONAL
      &VDW_POTENTIAL
        POTENTIAL_TYPE PAIR_POTENTIAL
        &PAIR_POTENTIAL
          TYPE DFTD3
          R_CUTOFF 16.0
          PARAMETER_FILE_NAME dftd3.dat
          REFERENCE_FUNCTIONAL PBE
        &END PAIR_POTENTIAL
      &END VDW_POTENTIAL
    &END XC
  &END DFT
  &SUBSYS
    &KIND C
      BASIS_SET DZVP-GTH-PBE
      POTENTIAL GTH-PBE-q4
    &END KIND
    &KIND H
      BASIS_SET DZVP-GTH-PBE
      POTENTIAL GTH-PBE-q1
      MASS 2.014101777
    &END KIND
    &KIND N
      BASIS_SET DZVP-GTH-PBE
      POTENTIAL GTH-PBE-q5
    &END KIND
    &KIND Zn
      BASIS_SET DZVP-MOLOPT-SR-GTH
      POTENTIAL GTH-PBE-q12
    &END KIND
  &END SUBSYS
&END FORCE_EVAL
"""


def cp2k_settings(label="cp2k", **kwargs):
    """Keyword arguments of :class:`ase.calculators.cp2k.CP2K` for the paper's reference method.

    ASE's own defaults (basis set, pseudopotential, functional, cut-off, MAX_SCF) are switched
    off so that only :data:`REFERENCE_INPUT` defines the method; ``stress_tensor`` stays on
    (with it off ASE silently returns a zero stress).

    Parameters
    ----------
    label : str
        CP2K project name / file prefix.
    **kwargs
        Overrides or extra :class:`~ase.calculators.cp2k.CP2K` parameters (e.g. ``command``).

    Returns
    -------
    dict
    """
    settings = dict(label=label, inp=REFERENCE_INPUT, basis_set=None, basis_set_file=None,
                    potential_file=None, pseudo_potential=None, xc=None, cutoff=None,
                    max_scf=None, stress_tensor=True, print_level="LOW")
    settings.update(kwargs)
    return settings


def cp2k_calculator(label="cp2k", command=None, **kwargs):
    """ASE :class:`~ase.calculators.cp2k.CP2K` calculator with the paper's reference method.

    Constructing it starts ``cp2k_shell`` (CP2K must be installed).

    Parameters
    ----------
    label : str
        CP2K project name / file prefix.
    command : str, optional
        The ``cp2k_shell`` command (e.g. ``"mpirun -np 64 cp2k_shell.psmp"``); default ASE's
        ``$ASE_CP2K_COMMAND`` or ``cp2k_shell``.
    **kwargs
        See :func:`cp2k_settings`.

    Returns
    -------
    ase.calculators.cp2k.CP2K
        Energies in eV, forces in eV/Å, stress in eV/Å³ (ASE conventions).
    """
    from ase.calculators.cp2k import CP2K

    if command is not None:
        kwargs["command"] = command
    return CP2K(**cp2k_settings(label, **kwargs))
