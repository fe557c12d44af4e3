"""Is a melt-quenched ZIF-4 a glass? The criteria of Castel et al., Digital Discovery 3, 355 (2024).

The paper accepts a melt-quenched structure (300 K, after the quench) as a glass like the ten ab
initio glasses of Gaillac et al. (2020) when

* the mean Zn–N coordination number (2.5 Å cut-off, over frames) lies within 3.85–4.0,
* every imidazolate linker is intact (two per Zn: 32 in the 272-atom cell),
* the primitive ring statistics of the Zn–Im net are no longer those of the crystal (per cell
  8:4, 12:16, 16:32 Zn + Im nodes; compared per Zn so that supercells compare too),
* the mean N–Zn–N angle is 109.5 ± 1.5°,
* the total pore volume (He probe, 1.2 Å) lies within 55–75 cm³/kg,
* its X-ray D(r) agrees with the measured one no worse than the ab initio glasses do
  (R_w over 0.5–20 Å, no larger than theirs; see :func:`xray_agreement`).

:func:`glass_criteria` measures these quantities on a list of frames, :func:`judge` compares
them with the bars, :func:`run_frames` picks the frames of a run's final stage and
:func:`run_status` tells whether a run of :func:`aseml_zif.md.run` finished or was stopped.
"""
import csv
import json
from pathlib import Path

import numpy as np

__all__ = ["BARS", "crystal_rings_per_zn", "run_status", "run_frames", "xray_agreement",
           "glass_criteria", "judge", "same_rings", "compare_structures", "structure_profiles", "plot_profiles"]

#: Bars of the paper: Zn–N CN, N–Zn–N mean angle (degrees), total pore volume (cm³/kg),
#: all inclusive ranges; linkers: all intact; rings: not the crystal's.
BARS = {"cn": (3.85, 4.0), "angle_deg": (108.0, 111.0), "pore_cm3_per_kg": (55.0, 75.0)}


def crystal_rings_per_zn(max_depth=32):
    """Primitive rings per Zn of the ideal ZIF-4 crystal (:func:`aseml_zif.structures.zif4_crystal`).

    Returns
    -------
    dict
        ``{ring size (Zn + Im nodes): rings per Zn}``; ZIF-4 gives ``{8: 0.25, 12: 1, 16: 2}``
        (per 16-Zn cell 4, 16, 32).
    """
    from ..structures import zif4_crystal
    from . import RingStatistics

    return RingStatistics(max_depth=max_depth).compute(zif4_crystal(), progress=False).counts_per_zn


def same_rings(a, b, tol=1e-9):
    """True when two ``{size: count}`` ring statistics are equal (sizes as int or str)."""
    a = {int(k): float(v) for k, v in a.items() if v}
    b = {int(k): float(v) for k, v in b.items() if v}
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= tol for k in a)


def _last_thermo_row(path):
    if not Path(path).is_file():
        return None
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return rows[-1] if rows else None


def run_status(workdir):
    """State of a run folder of :func:`aseml_zif.md.run`.

    Parameters
    ----------
    workdir : path-like
        Folder with ``run.json``, ``thermo.csv`` (and ``watchdog_snapshot.traj`` when stopped).

    Returns
    -------
    dict
        ``step`` (last logged MD step, 0 before the first), ``total_steps`` (of the stages in
        ``run.json``; None without it), ``finished`` (bool), ``stopped`` (the message stored in
        the snapshot by the watchdog, ``"watchdog: ..."``, or by a model/structure error,
        ``"error: ..."``; None when there is no snapshot) and ``last_stage``.
    """
    workdir = Path(workdir)
    row = _last_thermo_row(workdir / "thermo.csv")
    step = int(float(row["step"])) if row else 0
    total = None
    settings_path = workdir / "run.json"
    if settings_path.is_file():
        settings = json.loads(settings_path.read_text())
        dt = float(settings["timestep_fs"])
        total = sum(max(1, int(round(s["duration_ps"] * 1000.0 / dt))) for s in settings["stages"])
    stopped = None
    snapshot = workdir / "watchdog_snapshot.traj"
    if snapshot.is_file():
        from ase.io import read

        info = read(snapshot, index=-1).info
        stopped = next((f"{key}: {info[key]}" for key in ("watchdog", "error") if key in info),
                       "stopped (snapshot without message)")
        if int(info.get("step", -1)) < step:  # a snapshot older than the resumed run
            stopped = None
    return {"step": step, "total_steps": total, "finished": total is not None and step >= total,
            "stopped": stopped, "last_stage": row["stage"] if row else None}


def run_frames(path, stage="last", stride=1):
    """Frames to judge: those of one stage of a run folder, or all frames of a structure file.

    Parameters
    ----------
    path : path-like
        A run folder of :func:`aseml_zif.md.run` (its ``trajectory.traj``, or ``final.extxyz``
        when there is no trajectory), a ``.traj``/extxyz trajectory (all frames) or a structure
        file that :func:`aseml_zif.io.read_structure` reads (CIF, LAMMPS data).
    stage : str
        Stage label whose frames are kept (``"equilibrate"`` for :func:`aseml_zif.md.melt_quench`);
        ``"last"``: the label of the last saved frame; ``"all"``: every frame.
    stride : int
        Keep every ``stride``-th of the selected frames.

    Returns
    -------
    frames : list of ase.Atoms
    source : dict
        ``file``, ``stage`` and ``steps`` (MD step of each kept frame, when known).
    """
    from ase.io import Trajectory, read, ulm

    from ..io import read_structure

    path = Path(path)
    if path.is_dir():
        traj = path / "trajectory.traj"
        if traj.is_file():
            with ulm.open(str(traj)) as reader:
                infos = [reader[k].get("info", {}) for k in range(len(reader))]
            labels = [info.get("stage") for info in infos]
            wanted = labels[-1] if stage == "last" else stage
            keep = [k for k, label in enumerate(labels) if stage == "all" or label == wanted]
            keep = keep[::stride]
            with Trajectory(str(traj)) as frames:
                selected = [frames[k] for k in keep]
            return selected, {"file": str(traj), "stage": wanted,
                              "steps": [int(infos[k].get("step", -1)) for k in keep]}
        path = path / "final.extxyz"
    if path.suffix.lower() in (".traj", ".extxyz", ".xyz"):  # trajectories: every frame
        frames = read(str(path), index=f"::{stride}")
        frames = frames if isinstance(frames, list) else [frames]
        for atoms in frames:
            atoms.wrap()
    else:  # CIF, LAMMPS data, ...: one structure
        frames = [read_structure(path)]
    return frames, {"file": str(path), "stage": None, "steps": None}


def _evenly_spaced(n, n_max):
    return sorted(set(np.linspace(0, n - 1, min(n, n_max)).round().astype(int).tolist()))


def xray_agreement(frames, experiment, r_max=15.0, r_range=(0.5, 20.0)):
    """R_w of the model X-ray D(r) against a measurement, per frame and frame-averaged.

    Uses :class:`aseml_zif.analysis.XRayScattering` and its ``agreement`` (the measured ``.int01``
    Q grid, Lorch width 0.08 Å, unweighted R_w on D(r) over ``r_range``).

    Parameters
    ----------
    frames : list of ase.Atoms
    experiment : path-like
        The measurement's ``.dofr`` file; the ``.int01`` file of the same name gives the Q grid.
    r_max : float
        Range of the partial g(r), Å.
    r_range : (float, float)
        r range of R_w, Å.

    Returns
    -------
    dict
        ``r_w_dr`` (mean of the single-frame R_w: comparable with single ab initio structures),
        ``r_w_dr_per_frame``, ``r_w_dr_averaged`` (D(r) of the frame-averaged g(r)),
        ``r_w_fq_averaged`` (F(Q), error-weighted) and ``experiment``.
    """
    from . import XRayScattering, read_dofr, read_int01

    experiment = Path(experiment)
    fq, dr = read_int01(experiment.with_suffix(".int01")), read_dofr(experiment.with_suffix(".dofr"))
    per_frame = [XRayScattering(r_max=r_max).compute(atoms).agreement(fq, dr, r_range=r_range)["r_w_dr"]
                 for atoms in frames]
    averaged = XRayScattering(r_max=r_max).compute(frames).agreement(fq, dr, r_range=r_range)
    return {"r_w_dr": float(np.mean(per_frame)), "r_w_dr_per_frame": per_frame,
            "r_w_dr_averaged": averaged["r_w_dr"], "r_w_fq_averaged": averaged["r_w_fq"],
            "experiment": str(experiment)}


def glass_criteria(frames, crystal_rings=None, experiment=None, zn_n_cutoff=2.5,
                   max_structure_frames=10, probe_radius=1.2, max_ring_depth=32):
    """Measure the paper's glass criteria on ``frames``.

    Parameters
    ----------
    frames : ase.Atoms or list of ase.Atoms
        Structures of one glass (e.g. the saved frames of its final 300 K stage).
    crystal_rings : dict, optional
        Rings per Zn of the crystal (default :func:`crystal_rings_per_zn`).
    experiment : path-like, optional
        Measured ``.dofr`` file (with its ``.int01``) for :func:`xray_agreement`; None skips it.
    zn_n_cutoff : float
        Zn–N bond cut-off, Å (coordination, angles, linkers, rings).
    max_structure_frames : int
        Rings, pore volume and X-ray use at most this many frames, evenly spread.
    probe_radius : float
        He probe radius of the pore volume, Å.
    max_ring_depth : int
        Largest ring searched, Zn + Im nodes.

    Returns
    -------
    dict
        ``n_frames``, ``n_zn``; ``cn`` (mean Zn–N CN) and ``cn_per_frame``; ``linkers_intact_min``
        (fewest intact linkers in any frame), ``linkers_expected`` (2 per Zn); ``rings_per_cell``
        and ``rings_per_zn`` (mean over the ring frames), ``rings_crystal_like_frames`` (frames
        whose rings equal the crystal's), ``rings_like_crystal`` (mean statistics equal the
        crystal's); ``angle_deg`` (mean N–Zn–N, degrees); ``pore_cm3_per_kg`` (mean total pore
        volume) and its ``_std``; ``xray`` (:func:`xray_agreement`) when ``experiment`` is given.
    """
    from . import BondAngles, Coordination, RingStatistics, find_linkers, pore_volume

    frames = [frames] if not isinstance(frames, (list, tuple)) else list(frames)
    crystal_rings = crystal_rings_per_zn(max_ring_depth) if crystal_rings is None else crystal_rings
    heavy = [frames[k] for k in _evenly_spaced(len(frames), max_structure_frames)]
    cn = Coordination("Zn", "N", zn_n_cutoff).compute(frames)
    angles = BondAngles("Zn", "N", zn_n_cutoff).compute(frames)
    intact = [find_linkers(atoms, zn_n_cutoff=zn_n_cutoff).n_intact for atoms in frames]
    total_rings = RingStatistics(max_depth=max_ring_depth, zn_n_cutoff=zn_n_cutoff)
    crystal_like = 0
    for atoms in heavy:
        one = RingStatistics(max_depth=max_ring_depth, zn_n_cutoff=zn_n_cutoff)
        crystal_like += same_rings(one.compute(atoms, progress=False).counts_per_zn, crystal_rings)
        total_rings.compute(atoms, progress=False)
    pores = [pore_volume(atoms, probe_radius=probe_radius)["total_cm3_per_kg"] for atoms in heavy]
    n_zn = int(np.count_nonzero(frames[0].numbers == 30))
    values = {
        "n_frames": len(frames), "n_structure_frames": len(heavy), "n_zn": n_zn,
        "cn": cn.mean, "cn_per_frame": cn.per_frame.tolist(),
        "linkers_intact_min": int(min(intact)), "linkers_intact_last": int(intact[-1]),
        "linkers_expected": 2 * n_zn,
        "rings_per_cell": {str(k): v for k, v in total_rings.counts.items()},
        "rings_per_zn": {str(k): v for k, v in total_rings.counts_per_zn.items()},
        "rings_crystal_like_frames": int(crystal_like),
        "rings_like_crystal": same_rings(total_rings.counts_per_zn, crystal_rings),
        "angle_deg": angles.mean,
        "pore_cm3_per_kg": float(np.mean(pores)), "pore_cm3_per_kg_std": float(np.std(pores)),
    }
    if experiment is not None:
        values["xray"] = xray_agreement(heavy, experiment)
    return values


def judge(values, reference_r_w=None):
    """Pass (True) / fail (False) / not judged (None) of each criterion.

    Parameters
    ----------
    values : dict
        :func:`glass_criteria` output.
    reference_r_w : sequence of float, optional
        D(r) R_w of the reference (ab initio) glasses; the X-ray criterion passes when the
        structure's R_w is no larger than their largest.

    Returns
    -------
    dict
        ``cn``, ``linkers``, ``rings``, ``angle``, ``pores``, ``xray`` and ``glass`` (all judged
        criteria pass).
    """
    def within(x, bar):
        return bool(bar[0] - 1e-9 <= x <= bar[1] + 1e-9)

    verdict = {
        "cn": within(values["cn"], BARS["cn"]),
        "linkers": values["linkers_intact_min"] == values["linkers_expected"],
        "rings": not values["rings_like_crystal"],
        "angle": within(values["angle_deg"], BARS["angle_deg"]),
        "pores": within(values["pore_cm3_per_kg"], BARS["pore_cm3_per_kg"]),
        "xray": None,
    }
    if "xray" in values and reference_r_w:
        verdict["xray"] = bool(values["xray"]["r_w_dr"] <= max(reference_r_w) + 1e-12)
    verdict["glass"] = all(v for v in verdict.values() if v is not None)
    return verdict


def compare_structures(start, frames, zn_n_cutoff=2.5, max_ring_depth=32):
    """Zn–N coordination and ring statistics of ``start`` and of each of ``frames``.

    The check of the paper's Fig. S3: a potential that keeps an ab initio glass as it is leaves
    both unchanged over 10 ps at 300 K.

    Parameters
    ----------
    start : ase.Atoms
        The reference structure.
    frames : list of ase.Atoms
        Later frames (e.g. the last ones of an MD run from ``start``).
    zn_n_cutoff : float
        Zn–N bond cut-off, Å.
    max_ring_depth : int
        Largest ring searched, Zn + Im nodes.

    Returns
    -------
    dict
        ``cn_before`` and ``cn_after`` (list, per frame) mean Zn–N CN; ``rings_before`` and
        ``rings_after`` (list) rings per cell ``{size: count}``; ``n_frames_compared``;
        ``cn_changed``, ``rings_changed``: any frame differs from ``start``.
    """
    from . import Coordination, RingStatistics

    def rings(atoms):
        stats = RingStatistics(max_depth=max_ring_depth, zn_n_cutoff=zn_n_cutoff)
        return {str(k): v for k, v in stats.compute(atoms, progress=False).counts.items()}

    def cn(atoms):
        return Coordination("Zn", "N", zn_n_cutoff).compute(atoms).mean

    cn0, rings0 = cn(start), rings(start)
    cn1, rings1 = [cn(a) for a in frames], [rings(a) for a in frames]
    return {"cn_before": cn0, "cn_after": cn1, "rings_before": rings0, "rings_after": rings1,
            "n_frames_compared": len(frames), "cn_changed": any(abs(c - cn0) > 1e-9 for c in cn1),
            "rings_changed": not all(same_rings(r, rings0) for r in rings1)}


def structure_profiles(frames, pairs=(("Zn", "N"), ("Zn", "Zn")), temperature=300.0,
                       zn_n_cutoff=2.5, max_ring_frames=10):
    """Curves of the paper's Figs. 6–8 for one glass: partial RDFs and PMFs, N–Zn–N angles, rings.

    Parameters
    ----------
    frames : ase.Atoms or list of ase.Atoms
    pairs : sequence of (str, str)
        Element pairs of the RDFs (0–10 Å, 200 bins).
    temperature : float
        Temperature of the potentials of mean force, K.
    zn_n_cutoff : float
        Zn–N bond cut-off of the angles and rings, Å.
    max_ring_frames : int
        Rings are averaged over at most this many frames, evenly spread.

    Returns
    -------
    dict
        ``r`` (Å), ``g`` and ``pmf`` (kJ/mol, NaN where g = 0; one array per pair), ``theta``
        (degrees), ``p_theta`` and ``pmf_theta`` (kJ/mol, NaN where unsampled), ``rings``
        (``{size: rings per Zn}``).
    """
    from . import RDF, BondAngles, RingStatistics

    frames = [frames] if not isinstance(frames, (list, tuple)) else list(frames)
    rdfs = [RDF(pair, r_max=10.0).compute(frames) for pair in pairs]
    angles = BondAngles("Zn", "N", zn_n_cutoff).compute(frames)
    heavy = [frames[k] for k in _evenly_spaced(len(frames), max_ring_frames)]
    rings = RingStatistics(zn_n_cutoff=zn_n_cutoff).compute(heavy, progress=False).counts_per_zn

    def finite(pmf):
        return np.where(np.isfinite(pmf), pmf, np.nan)

    return {"r": rdfs[0].bin_centers, "g": [r.rdf for r in rdfs],
            "pmf": [finite(r.pmf(temperature)) for r in rdfs], "theta": angles.bin_centers,
            "p_theta": angles.distribution, "pmf_theta": finite(angles.pmf(temperature)),
            "rings": rings}


def plot_profiles(reference, runs, pairs):
    """The paper's Figs. 6–8 in one figure: reference glasses (mean ± sd) against runs.

    Rows: partial g(r), their PMFs (kJ/mol), then the N–Zn–N angle distribution, its PMF and
    the ring-size histogram (rings per Zn); one column per pair.

    Parameters
    ----------
    reference : list of dict
        :func:`structure_profiles` of each reference glass (drawn as mean ± standard deviation).
    runs : list of (str, dict)
        Label and :func:`structure_profiles` of each structure to compare (one line each).
    pairs : sequence of (str, str)
        The pairs the profiles were computed for (the figure has at least three columns).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import warnings

    from matplotlib.figure import Figure

    ref = reference
    ncols = max(3, len(pairs))
    fig = Figure(figsize=(4.2 * ncols, 10))
    axes = fig.subplots(3, ncols, squeeze=False)

    def band(ax, x, curves, label):
        curves = np.asarray(curves, dtype=float)
        with warnings.catch_warnings():  # columns where no glass has a finite PMF
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, sd = np.nanmean(curves, axis=0), np.nanstd(curves, axis=0)
        ax.plot(x, mean, "k-", lw=1, label=label)
        ax.fill_between(x, mean - sd, mean + sd, color="0.6", alpha=0.5, lw=0)

    label = f"ab initio glasses (mean ± sd, n={len(ref)})"
    for col, pair in enumerate(pairs):
        for row, key, ylabel in ((0, "g", "g(r)"), (1, "pmf", "PMF (kJ/mol)")):
            ax = axes[row, col]
            band(ax, ref[0]["r"], [c[key][col] for c in ref], label)
            for k, (name, c) in enumerate(runs):
                ax.plot(c["r"], c[key][col], f"C{k}-", lw=1, label=name)
            ax.set(xlabel="r (Å)", ylabel=f"{'–'.join(pair)} {ylabel}")
        axes[1, col].set_ylim(-1, 25)
    ax_p, ax_f, ax_r = axes[2, 0], axes[2, 1], axes[2, -1]
    band(ax_p, ref[0]["theta"], [c["p_theta"] for c in ref], label)
    band(ax_f, ref[0]["theta"], [c["pmf_theta"] for c in ref], label)
    for k, (name, c) in enumerate(runs):
        ax_p.plot(c["theta"], c["p_theta"], f"C{k}-", lw=1, label=name)
        ax_f.plot(c["theta"], c["pmf_theta"], f"C{k}-", lw=1, label=name)
    ax_p.set(xlim=(60, 160), xlabel="N–Zn–N angle (°)", ylabel="distribution")
    ax_f.set(xlim=(60, 160), ylim=(-1, 25), xlabel="N–Zn–N angle (°)", ylabel="PMF (kJ/mol)")
    sizes = sorted({int(s) for c in ref + [c for _, c in runs] for s in c["rings"]})
    counts = np.array([[c["rings"].get(s, 0.0) for s in sizes] for c in ref])
    width = 0.8 / (1 + len(runs))
    ax_r.bar(np.arange(len(sizes)), counts.mean(axis=0), width, yerr=counts.std(axis=0),
             color="0.6", label="ab initio glasses")
    for k, (name, c) in enumerate(runs):
        ax_r.bar(np.arange(len(sizes)) + (k + 1) * width, [c["rings"].get(s, 0.0) for s in sizes],
                 width, color=f"C{k}", label=name)
    ax_r.set(xticks=np.arange(len(sizes)), xticklabels=sizes, xlabel="ring size (Zn + Im nodes)",
             ylabel="rings per Zn")
    for ax in axes.flat:
        if ax.has_data():
            ax.legend(fontsize="x-small")
        else:
            ax.set_axis_off()
    fig.tight_layout()
    return fig
