"""``aseml-zif mechanics eos|fluctuations``: bulk modulus and elastic tensor from MD runs
(:mod:`aseml_zif.mechanics`; paper Sec. 2.4, Tables 2–3, Fig. S8)."""
from pathlib import Path

import numpy as np

from ..errors import AsemlZifError
from .common import output_dir, save_figure, write_json

__all__ = ["register", "mean_pressure_volume"]


def mean_pressure_volume(run_dir, skip_fraction=0.5, n_blocks=5):
    """Block-averaged volume (Å³) and pressure (GPa) of an ``aseml-zif md`` run folder, using its
    ``thermo.csv`` after discarding the first ``skip_fraction`` as equilibration.

    Returns
    -------
    (float, float, float)
        Mean volume, mean pressure, standard error of the pressure.
    """
    from ..md import RUN_FILES
    from ..mechanics import block_average
    from .md import read_thermo

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


def _eos(args):
    import matplotlib.pyplot as plt

    from ..mechanics import fit_birch_murnaghan

    if len(args.runs) < args.order + 1:
        raise AsemlZifError(f"a Birch–Murnaghan fit of order {args.order} needs at least "
                            f"{args.order + 1} volumes, got {len(args.runs)} run folders")
    points = np.array([mean_pressure_volume(r, args.skip_fraction, args.blocks) for r in args.runs])
    fit = fit_birch_murnaghan(points[:, 0], points[:, 1], order=args.order,
                              pressure_errors_GPa=points[:, 2])
    out = output_dir(args.out)
    fig, ax = plt.subplots()
    fit.plot(ax=ax)
    save_figure(fig, out / "pv_fit.png")
    result = {"order": fit.order, "K0_GPa": fit.K0_GPa, "K0_GPa_err": fit.K0_GPa_err,
              "V0_A3": fit.V0_A3, "V0_A3_err": fit.V0_A3_err, "K0_prime": fit.K0_prime,
              "K0_prime_err": fit.K0_prime_err,
              "points": [{"run": str(r), "volume_A3": v, "pressure_GPa": p, "pressure_err_GPa": e}
                         for r, (v, p, e) in zip(args.runs, points)]}
    write_json(out / "eos.json", result)
    print(f"K0 = {fit.K0_GPa:.2f} ± {fit.K0_GPa_err:.2f} GPa, V0 = {fit.V0_A3:.1f} Å³; "
          f"wrote {out}/eos.json, pv_fit.png")


def _fluctuations(args):
    import matplotlib.pyplot as plt

    from ..analysis import as_frame_list
    from ..mechanics import (bulk_modulus_from_volume_fluctuations, elastic_moduli,
                             running_stiffness, stiffness_from_cell_fluctuations)

    frames = as_frame_list(args.trajectory)
    frames = frames[int(len(frames) * args.skip_fraction):]
    cells = np.array([atoms.cell.array for atoms in frames])
    C = stiffness_from_cell_fluctuations(cells, args.temperature)
    K_volume = bulk_modulus_from_volume_fluctuations(np.abs(np.linalg.det(cells)), args.temperature)
    moduli = elastic_moduli(C, require_stable=False)
    out = output_dir(args.out)
    fig, ax = plt.subplots()
    running_stiffness(cells, args.temperature).plot(ax=ax)
    save_figure(fig, out / "running_stiffness.png")
    write_json(out / "elastic.json", {"n_frames": len(frames), "temperature_K": args.temperature,
                                      "C_GPa": C, "K_volume_fluctuations_GPa": K_volume,
                                      "moduli": moduli})
    print(f"K_H = {moduli['K_H']:.2f} GPa, G_H = {moduli['G_H']:.2f} GPa, K(volume fluct.) = "
          f"{K_volume:.2f} GPa from {len(frames)} frames; wrote {out}/elastic.json")


def register(subparsers):
    """Add ``mechanics`` with ``eos`` and ``fluctuations``."""
    parser = subparsers.add_parser(
        "mechanics", help="bulk modulus (P-V fit) and elastic tensor (strain fluctuations)",
        description="Mechanical properties as in the paper (Sec. 2.4): Birch-Murnaghan fit of "
        "NVT runs at several volumes, or the stiffness tensor from the cell fluctuations of a "
        "flexible-cell NPT run (use 'aseml-zif md npt --cell langevin').")
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
