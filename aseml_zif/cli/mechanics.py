"""``aseml-zif mechanics eos|fluctuations|scan|sample``: bulk modulus and elastic tensor from MD
runs (:mod:`aseml_zif.mechanics`; paper Sec. 2.4, Tables 2–3, Fig. S8).

``eos`` and ``fluctuations`` analyse finished runs; ``scan`` and ``sample`` run the MD themselves
(:func:`~aseml_zif.mechanics.volume_scan`, :func:`~aseml_zif.mechanics.sample_cells`) in the
``--out`` folder, checkpointed: rerunning the same command there resumes.
"""
from pathlib import Path

import numpy as np

from ..errors import AsemlZifError
from .common import (add_model_arguments, add_threads_argument, apply_threads, load_calculator, output_dir,
                     save_figure, write_json)

__all__ = ["register", "mean_pressure_volume"]

#: sub-folder of ``--out`` holding the MD of ``scan`` (one run folder per volume) and of ``sample``
RUN_FOLDERS = {"scan": "volumes", "sample": "nsigmat"}


def mean_pressure_volume(run_dir, skip_fraction=0.5, n_blocks=5):
    """Block-averaged volume (Å³) and pressure (GPa) of an ``aseml-zif md`` run folder, using its
    ``thermo.csv`` after discarding the first ``skip_fraction`` as equilibration.

    Returns
    -------
    (float, float, float)
        Mean volume, mean pressure, standard error of the pressure.
    """
    from ..md import RUN_FILES
    from ..md.results import read_thermo
    from ..mechanics import block_average

    path = Path(run_dir) / RUN_FILES["thermo"]
    if not path.is_file():
        raise AsemlZifError(f"{run_dir}: no {RUN_FILES['thermo']} (expected an 'aseml-zif md' run folder)")
    thermo = read_thermo(path)
    if not thermo:
        raise AsemlZifError(f"{path}: no rows")
    start = int(len(thermo["step"]) * skip_fraction)
    volume = float(np.mean(thermo["volume_A3"][start:]))
    pressure, error = block_average(thermo["pressure_GPa"][start:], n_blocks=n_blocks)
    return volume, pressure, error


def _write_eos(fit, points, out):
    """``eos.json`` and ``pv_fit.png`` of a Birch–Murnaghan fit in ``out``; one summary line."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    fit.plot(ax=ax)
    save_figure(fig, out / "pv_fit.png")
    write_json(out / "eos.json", {
        "order": fit.order, "K0_GPa": fit.K0_GPa, "K0_GPa_err": fit.K0_GPa_err, "V0_A3": fit.V0_A3,
        "V0_A3_err": fit.V0_A3_err, "K0_prime": fit.K0_prime, "K0_prime_err": fit.K0_prime_err,
        "points": points})
    print(f"K0 = {fit.K0_GPa:.2f} ± {fit.K0_GPa_err:.2f} GPa, V0 = {fit.V0_A3:.1f} Å³; "
          f"wrote {out}/eos.json, pv_fit.png")


def _write_elastic(cells, temperature_K, out, extra):
    """``elastic.json`` (with ``extra`` entries) and ``running_stiffness.png`` from NσT cells."""
    import matplotlib.pyplot as plt

    from ..mechanics import (bulk_modulus_from_volume_fluctuations, elastic_moduli,
                             running_stiffness, stiffness_from_cell_fluctuations)

    C = stiffness_from_cell_fluctuations(cells, temperature_K)
    K_volume = bulk_modulus_from_volume_fluctuations(np.abs(np.linalg.det(cells)), temperature_K)
    moduli = elastic_moduli(C, require_stable=False)
    fig, ax = plt.subplots()
    running_stiffness(cells, temperature_K).plot(ax=ax)
    save_figure(fig, out / "running_stiffness.png")
    write_json(out / "elastic.json", {"n_frames": len(cells), "temperature_K": temperature_K,
                                      "C_GPa": C, "K_volume_fluctuations_GPa": K_volume,
                                      "moduli": moduli, **extra})
    print(f"K_H = {moduli['K_H']:.2f} GPa, G_H = {moduli['G_H']:.2f} GPa, K(volume fluct.) = "
          f"{K_volume:.2f} GPa from {len(cells)} frames; wrote {out}/elastic.json")


def _eos(args):
    from ..mechanics import fit_birch_murnaghan

    if len(args.runs) < args.order + 1:
        raise AsemlZifError(f"a Birch–Murnaghan fit of order {args.order} needs at least "
                            f"{args.order + 1} volumes, got {len(args.runs)} run folders")
    points = np.array([mean_pressure_volume(r, args.skip_fraction, args.blocks) for r in args.runs])
    fit = fit_birch_murnaghan(points[:, 0], points[:, 1], order=args.order,
                              pressure_errors_GPa=points[:, 2])
    _write_eos(fit, [{"run": str(r), "volume_A3": v, "pressure_GPa": p, "pressure_err_GPa": e}
                     for r, (v, p, e) in zip(args.runs, points)], output_dir(args.out))


def _fluctuations(args):
    from ..analysis import as_frame_list

    frames = as_frame_list(args.trajectory)
    frames = frames[int(len(frames) * args.skip_fraction):]
    cells = np.array([atoms.cell.array for atoms in frames])
    _write_elastic(cells, args.temperature, output_dir(args.out), {})


def _steps(time_ps, timestep_fs):
    return int(round(time_ps * 1000.0 / timestep_fs))


def _md_input(args):
    """Structure with its calculator, and the MD options shared by ``scan`` and ``sample``."""
    from .md import load_structure

    atoms = load_structure(args.structure, args.supercell)
    apply_threads(args.threads)
    atoms.calc = load_calculator(args.model, args.device, args.dtype, args.compile)
    options = dict(timestep_fs=args.timestep_fs, interval=args.interval, tdamp_fs=args.tdamp_fs,
                   n_steps=_steps(args.time_ps, args.timestep_fs),
                   n_equilibration=_steps(args.equilibration_ps, args.timestep_fs),
                   seed=args.seed, checkpoint_every=args.checkpoint_every,
                   watchdog=not args.no_watchdog, allow_other_potential=args.allow_other_potential)
    return atoms, options


def _scan(args):
    from ..mechanics import volume_scan

    atoms, options = _md_input(args)
    out = output_dir(args.out)
    scan = volume_scan(atoms, args.temperature, volume_strains=args.strains, n_blocks=args.blocks,
                       workdir=out / RUN_FOLDERS["scan"], **options)
    fit = scan.fit(order=args.order, select=not args.fit_all)
    fitted = scan.well_behaved() if not args.fit_all else np.ones(len(scan.volumes_A3), dtype=bool)
    _write_eos(fit, [{"strain": s, "volume_A3": v, "pressure_GPa": p, "pressure_err_GPa": e,
                      "fitted": bool(f), "conserved_energy_drift_eV": d}
                     for s, v, p, e, f, d in zip(sorted(args.strains), scan.volumes_A3,
                                                 scan.pressures_GPa, scan.pressure_errors_GPa,
                                                 fitted, scan.conserved_drift_eV)], out)


def _sample(args):
    from ..mechanics import sample_cells

    atoms, options = _md_input(args)
    out = output_dir(args.out)
    samples = sample_cells(atoms, args.temperature, pressure_GPa=args.pressure_gpa,
                           pdamp_fs=args.pdamp_fs, workdir=out / RUN_FOLDERS["sample"], **options)
    _write_elastic(samples.cells, args.temperature, out,
                   {"pressure_GPa": args.pressure_gpa, "run": RUN_FOLDERS["sample"],
                    "time_per_frame_fs": samples.time_per_frame_fs})


def _add_md_arguments(parser, out, time_ps, equilibration_ps):
    """Structure, potential and run options of ``scan`` and ``sample``."""
    parser.add_argument("structure", help="'crystal' (the built-in ZIF-4) or a CIF/LAMMPS data/"
                        "extxyz file, at about zero pressure")
    parser.add_argument("--supercell", type=int, nargs=3, default=(1, 1, 1), metavar=("NA", "NB", "NC"),
                        help="repeat the structure (default: 1 1 1)")
    add_model_arguments(parser)
    add_threads_argument(parser)
    parser.add_argument("--temperature", type=float, required=True, help="temperature in K")
    parser.add_argument("--time-ps", type=float, default=time_ps,
                        help=f"sampled time in ps (default: {time_ps})")
    parser.add_argument("--equilibration-ps", type=float, default=equilibration_ps,
                        help=f"discarded equilibration in ps (default: {equilibration_ps})")
    parser.add_argument("--timestep-fs", type=float, default=0.5, help="time step in fs (default: 0.5)")
    parser.add_argument("--interval", type=int, default=10,
                        help="steps between samples (rows of thermo.csv, which logs the cell; frames are "
                        "saved every 100 samples; default: 10)")
    parser.add_argument("--tdamp-fs", type=float, default=100.0,
                        help="thermostat time constant in fs (default: 100)")
    parser.add_argument("--checkpoint-every", type=int, default=1000,
                        help="steps between checkpoints (default: 1000)")
    parser.add_argument("--no-watchdog", action="store_true",
                        help="do not stop on overlapping atoms, broken linkers or runaway T")
    parser.add_argument("--seed", type=int, default=None, help="seed of velocities and noise")
    parser.add_argument("--allow-other-potential", action="store_true",
                        help="resume runs in --out made with another potential (their run.json "
                        "records which); without it that is an error")
    parser.add_argument("--out", default=out, help=f"output folder; rerunning the same command "
                        f"there resumes the MD (default: {out})")


def register(subparsers):
    """Add ``mechanics`` with ``eos``, ``fluctuations``, ``scan`` and ``sample``."""
    parser = subparsers.add_parser(
        "mechanics", help="bulk modulus (P-V fit) and elastic tensor (strain fluctuations)",
        description="Mechanical properties as in the paper (Sec. 2.4): Birch-Murnaghan fit of "
        "NVT runs at several volumes, or the stiffness tensor from the cell fluctuations of a "
        "flexible-cell NPT run. 'eos' and 'fluctuations' analyse finished runs; 'scan' and "
        "'sample' run the MD too and resume when rerun.")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    eos = actions.add_parser("eos", help="Birch-Murnaghan fit of NVT runs at several volumes",
                             description="Mean P (block-averaged error) and V of each 'aseml-zif md' "
                             "run folder, then K0 and V0 from a Birch-Murnaghan fit. Writes "
                             "OUT/eos.json and pv_fit.png (paper Fig. S8).")
    eos.add_argument("runs", nargs="+", help="'aseml-zif md' run folders (one per volume)")
    eos.add_argument("--order", type=int, choices=(2, 3), default=2, help="BM order (default: 2)")
    eos.add_argument("--blocks", type=int, default=5, help="blocks for the pressure error (default: 5)")
    eos.add_argument("--skip-fraction", type=float, default=0.5,
                     help="fraction of each run discarded as equilibration (default: 0.5)")
    eos.add_argument("--out", default="mechanics_eos", help="output folder (default: mechanics_eos)")
    eos.set_defaults(func=_eos)

    fl = actions.add_parser("fluctuations", help="stiffness tensor from cell fluctuations",
                            description="C = (k_B T / <V>) cov(strain)^-1 in Voigt form (GPa), Hill "
                            "averages, eigenvalues, and K from volume fluctuations as a cross-check. "
                            "Writes OUT/elastic.json and running_stiffness.png.")
    fl.add_argument("trajectory", help="flexible-cell NPT trajectory (e.g. WORKDIR/trajectory.traj)")
    fl.add_argument("--temperature", type=float, required=True, help="temperature of the run in K")
    fl.add_argument("--skip-fraction", type=float, default=0.2,
                    help="fraction of frames discarded as equilibration (default: 0.2)")
    fl.add_argument("--out", default="mechanics_fluctuations",
                    help="output folder (default: mechanics_fluctuations)")
    fl.set_defaults(func=_fluctuations)

    scan = actions.add_parser(
        "scan", help="run NVT at scaled volumes, then the Birch-Murnaghan fit (resumable)",
        description="Nosé-Hoover NVT at isotropically scaled volumes (a step-wise ramp), "
        "block-averaged pressures, Birch-Murnaghan fit of the well-behaved region. The runs go to "
        f"OUT/{RUN_FOLDERS['scan']}/ (one 'aseml-zif md' run folder per volume); writes OUT/eos.json "
        "and pv_fit.png.")
    _add_md_arguments(scan, "mechanics_scan", time_ps=10.0, equilibration_ps=5.0)
    scan.add_argument("--strains", type=float, nargs="+", default=list(np.linspace(-0.015, 0.015, 7)),
                      metavar="DV_V", help="volumetric strains dV/V0 (default: 7 points, -1.5 %% to 1.5 %%)")
    scan.add_argument("--order", type=int, choices=(2, 3), default=2, help="BM order (default: 2)")
    scan.add_argument("--blocks", type=int, default=10, help="blocks for the pressure error (default: 10)")
    scan.add_argument("--fit-all", action="store_true",
                      help="fit every volume, not only the well-behaved region around P = 0")
    scan.set_defaults(func=_scan)

    sample = actions.add_parser(
        "sample", help="run flexible-cell NPT, then the stiffness tensor (resumable)",
        description="Langevin BAOAB NPT with a fully flexible cell (the integrator whose strain "
        "fluctuations reproduce known elastic constants), then the analysis of 'fluctuations' on "
        f"its production frames. The run goes to OUT/{RUN_FOLDERS['sample']}/; writes "
        "OUT/elastic.json and running_stiffness.png.")
    _add_md_arguments(sample, "mechanics_sample", time_ps=50.0, equilibration_ps=5.0)
    sample.add_argument("--pressure-gpa", type=float, default=0.0, help="target P in GPa (default: 0)")
    sample.add_argument("--pdamp-fs", type=float, default=1000.0,
                        help="barostat time constant in fs (default: 1000)")
    sample.set_defaults(func=_sample)
