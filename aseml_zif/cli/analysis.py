"""``aseml-zif analyze``: the structural report of a structure or trajectory
(:func:`aseml_zif.analysis.analyze`), and the per-structure summary the demo compares."""
from pathlib import Path

from ..errors import StructureError
from .common import output_dir

__all__ = ["analysis_input", "register", "structure_analysis", "summary_of"]


def structure_analysis(atoms, frames=None, temperature_K=300.0):
    """Analyse a structure with the paper's settings (Zn–N cut-off 2.5 Å, rings to depth 32,
    helium probe 1.2 Å).

    Parameters
    ----------
    atoms : ase.Atoms
        The structure whose network is analysed: rings, pores, linkers, density.
    frames : list of ase.Atoms, optional
        Frames over which the distributions (RDFs, angles, coordination) are averaged, e.g. the
        last stage of an MD run; default ``[atoms]``.
    temperature_K : float
        Temperature (K) of the potentials of mean force.

    Returns
    -------
    dict
        The analysis objects: ``rdf_zn_n``, ``rdf_zn_zn`` (:class:`~aseml_zif.analysis.RDF`),
        ``angles`` (N–Zn–N :class:`~aseml_zif.analysis.BondAngles`), ``coordination``
        (:class:`~aseml_zif.analysis.Coordination`), ``rings``
        (:class:`~aseml_zif.analysis.RingStatistics`), ``linkers`` (report of
        :func:`~aseml_zif.analysis.find_linkers`), ``pores`` (cm³/kg from
        :func:`~aseml_zif.analysis.pore_volume`), ``density_g_cm3``, ``n_frames`` and
        ``temperature_K``.
    """
    from ..analysis import (RDF, BondAngles, Coordination, RingStatistics, find_linkers,
                            pore_volume)

    frames = [atoms] if frames is None else frames
    return {
        "rdf_zn_n": RDF(("Zn", "N"), r_max=8.0, bins=100).compute(frames),
        "rdf_zn_zn": RDF(("Zn", "Zn"), r_max=10.0, bins=100).compute(frames),
        "angles": BondAngles("Zn", "N", cutoff=2.5, bins=90).compute(frames),
        "coordination": Coordination("Zn", "N", cutoff=2.5).compute(frames),
        "rings": RingStatistics(max_depth=32).compute(atoms, progress=False),
        "linkers": find_linkers(atoms),
        "pores": pore_volume(atoms, probe_radius=1.2),
        "density_g_cm3": _density(atoms),
        "n_frames": len(frames),
        "temperature_K": temperature_K,
    }


def _density(atoms):
    from ase.units import _amu

    return float(atoms.get_masses().sum() * _amu * 1e3 / (atoms.cell.volume * 1e-24))


def summary_of(analysis):
    """JSON-able summary of :func:`structure_analysis`: the numbers a reader compares."""
    rdf = analysis["rdf_zn_n"]
    return {
        "frames_averaged": analysis["n_frames"],
        "density_g_cm3": analysis["density_g_cm3"],
        "zn_n_coordination": {"mean": analysis["coordination"].mean,
                              "distribution": analysis["coordination"].distribution},
        "n_zn_n_angle_deg": {"mean": analysis["angles"].mean,
                             "most_probable": analysis["angles"].most_probable},
        "zn_n_rdf_first_peak_A": float(rdf.bin_centers[rdf.rdf.argmax()]),
        "ring_counts_per_cell": analysis["rings"].counts,
        "pore_volume_cm3_per_kg": analysis["pores"],
        "linkers": analysis["linkers"].to_dict(),
    }


def analysis_input(path, species=None):
    """What ``aseml-zif analyze`` analyses: LAMMPS files read with their elements, else the path.

    Parameters
    ----------
    path : pathlib.Path
        A LAMMPS dump (``dump custom``, recognised by its first line ``ITEM: TIMESTEP``), a LAMMPS
        data file (``.lmp``, ``.data``, ``.lammps``) or any file ASE reads with all its frames.
    species : sequence of str, optional
        Element of each LAMMPS atom type, in type order (``["C", "H", "N", "Zn"]``: type 1 is C).
        Needed for a dump without ``element`` or ``mass`` column (unless it lies in a job folder
        of :func:`~aseml_zif.lammps.export_lammps_job`, whose ``job.json`` names them) and for
        a data file without ``Masses`` section.

    Returns
    -------
    list of ase.Atoms, ase.Atoms or pathlib.Path
        The frames of a LAMMPS file; other files are left to
        :func:`~aseml_zif.analysis.analyze` to read.

    Raises
    ------
    StructureError
        A dump whose elements are unknown (no ``element`` column and no ``species``), fewer
        ``species`` than atom types, ``species`` for a file that names its elements, or an
        unreadable LAMMPS file.
    """
    from ase.data import atomic_numbers

    from ..io import _LAMMPS_SUFFIXES, read_structure

    unknown = [s for s in species or () if s not in atomic_numbers]
    if unknown:
        raise StructureError(f"--species: {', '.join(unknown)} is not an element symbol")
    if not path.is_file():
        return path  # analyze names the missing file
    with open(path, "rb") as fh:
        is_dump = fh.read(14) == b"ITEM: TIMESTEP"
    if is_dump:
        from ..lammps.job import read_lammps_dump

        return read_lammps_dump(path, elements=species)
    if path.suffix.lower() in _LAMMPS_SUFFIXES:
        return read_structure(path, species=species)
    if species is not None:
        raise StructureError(f"{path}: --species is only for LAMMPS dumps and data files")
    return path


def _analyze(args):
    from ..analysis import analyze

    frames = analysis_input(args.frames, args.species)
    out = output_dir(args.out)
    report = analyze(frames, outdir=out, temperature=args.temperature, stride=args.stride,
                     zn_n_cutoff=args.zn_n_cutoff, rings=not args.no_rings,
                     pores=not args.no_pores, max_structure_frames=args.structure_frames,
                     timestep_fs=args.timestep_fs)
    coordination = report["coordination"]
    print(f"Zn-N coordination {coordination['mean']:.4f}; wrote {out}/report.json and "
          f"{', '.join(report.get('figures', []))}")


def register(subparsers):
    """Add ``analyze``."""
    parser = subparsers.add_parser(
        "analyze", help="structural report: RDF/PMF, angles, Zn-N CN, rings, pores, linkers",
        description="Analyse a structure or trajectory (CIF, extxyz, ASE .traj, LAMMPS dump or "
        "data file; --species C H N Zn names LAMMPS types 1-4) as in the paper: partial RDFs and "
        "PMFs, N-Zn-N angles, Zn-N coordination, linker integrity, primitive rings, pore volume "
        "(and MSD with --timestep-fs). Writes OUT/report.json and PNG figures.")
    parser.add_argument("frames", type=Path, help="structure or trajectory file")
    parser.add_argument("--species", nargs="+", default=None, metavar="ELEMENT",
                        help="LAMMPS dumps and data files: element of each atom type in type "
                        "order, e.g. --species C H N Zn (needed for a dump without an element "
                        "column)")
    parser.add_argument("--zn-n-cutoff", type=float, default=2.5,
                        help="Zn-N bond cut-off in Å for coordination, angles, linkers and rings "
                        "(default: 2.5)")
    parser.add_argument("--out", default="analysis", help="output folder (default: analysis)")
    parser.add_argument("--stride", type=int, default=1, help="use every n-th frame (default: 1)")
    parser.add_argument("--temperature", type=float, default=300.0,
                        help="temperature of the PMFs in K (default: 300)")
    parser.add_argument("--structure-frames", type=int, default=10,
                        help="frames used for rings and pores, spread over the run (default: 10)")
    parser.add_argument("--timestep-fs", type=float, default=None,
                        help="time between the input frames in fs; adds the MSD (default: no MSD)")
    parser.add_argument("--no-rings", action="store_true", help="skip the primitive-ring search")
    parser.add_argument("--no-pores", action="store_true", help="skip the pore volume (Zeo++)")
    parser.set_defaults(func=_analyze)
