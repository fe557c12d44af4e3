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
them with the bars, :func:`run_criteria` measures them on the final stage of a run folder (kept
in the folder) and :func:`compare_structures` is the 300 K stability check of the paper's
Fig. S3, with :func:`bond_changes` saying which Zn–N bonds changed and when. The frames and
state of a run are read by :func:`aseml_zif.md.results.run_frames` and
:func:`aseml_zif.md.results.run_status`, the Figs. 6–8 curves are in
:mod:`aseml_zif.analysis.glass_figure`; these four are re-exported here.
"""
from pathlib import Path

import numpy as np

from ..md.checkpoint import read_json, write_json
from ..md.results import run_frames, run_status
from .frames import _evenly_spaced
from .glass_figure import plot_profiles, structure_profiles  # noqa: F401  (re-exported)

__all__ = ["BARS", "crystal_rings_per_zn", "xray_agreement", "glass_criteria", "judge", "same_rings",
           "run_criteria", "compare_structures", "bond_changes"]

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


def _run_signature(path):
    """Size (bytes) and modification time (s) of the output files of run folder ``path``."""
    files = [p for p in (Path(path) / n for n in ("trajectory.traj", "final.extxyz", "thermo.csv"))
             if p.is_file()]
    return {p.name: [p.stat().st_size, p.stat().st_mtime] for p in files}


def run_criteria(path, crystal_rings=None, experiment=None, stage="last", stride=1,
                 max_structure_frames=10, allow_unfinished=False):
    """:func:`glass_criteria` of the frames of one stage of a run folder, or of a structure file.

    A run folder's result is kept in its ``glass_criteria.json`` (with the settings and the size
    and modification time of the run's files) and read back while neither has changed.

    Parameters
    ----------
    path : path-like
        A run folder of :func:`aseml_zif.md.run`, or a trajectory or structure file (all its
        frames are judged; see :func:`aseml_zif.md.results.run_frames`).
    crystal_rings : dict, optional
        Rings per Zn of the crystal (default :func:`crystal_rings_per_zn`).
    experiment : path-like, optional
        Measured ``.dofr`` file for :func:`xray_agreement`; None skips the X-ray criterion.
    stage : str
        Stage of a run folder whose frames are judged (``"last"``: that of the last frame).
    stride : int
        Keep every ``stride``-th frame.
    max_structure_frames : int
        Frames for rings, pore volume and X-ray (:func:`glass_criteria`).
    allow_unfinished : bool
        Judge a run folder whose run has not finished (else it is skipped).

    Returns
    -------
    dict
        ``name`` (folder name or file stem), ``path``; for a run folder ``status``
        (:func:`aseml_zif.md.results.run_status`); then either ``skipped`` (why an unfinished run
        was not judged) or ``source`` (:func:`aseml_zif.md.results.run_frames`) and ``values``
        (:func:`glass_criteria`). Read from the cache, it also holds ``settings`` and
        ``signature``.
    """
    path = Path(path)
    settings = {"stage": stage, "stride": stride, "max_frames": max_structure_frames,
                "experiment": str(experiment) if experiment else None}
    entry = {"name": path.name if path.is_dir() else path.stem, "path": str(path)}
    if path.is_dir():
        cache = read_json(path / "glass_criteria.json")
        if cache and cache.get("settings") == settings and cache.get("signature") == _run_signature(path):
            return cache
        status = run_status(path)
        entry["status"] = status
        if not status["finished"] and not allow_unfinished:
            entry["skipped"] = (f"unfinished: step {status['step']} of {status['total_steps']}"
                                + (f"; {status['stopped'][:150]}" if status["stopped"] else ""))
            return entry
    frames, entry["source"] = run_frames(path, stage=stage if path.is_dir() else "all", stride=stride)
    entry["values"] = glass_criteria(frames, crystal_rings, experiment,
                                     max_structure_frames=max_structure_frames)
    if path.is_dir():
        write_json(path / "glass_criteria.json",
                   dict(entry, settings=settings, signature=_run_signature(path)))
    return entry


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


def bond_changes(start, frames, first="Zn", second="N", cutoff=2.5, steps=None):
    """The ``first``–``second`` bonds that differ between ``start`` and ``frames``, and when.

    A pair is bonded when its distance (minimum image) is below ``cutoff``. Pairs bonded in
    ``start`` and in every frame, or in none of them, are left out.

    Parameters
    ----------
    start : ase.Atoms
        The reference structure (e.g. an ab initio glass before 300 K MD).
    frames : list of ase.Atoms
        Later frames of the same atoms, in time order.
    first, second : str
        Chemical symbols of the two atoms of a bond.
    cutoff : float
        Bond cut-off, Å.
    steps : list of int or None, optional
        MD step of each frame (``None`` where unknown), reported next to frame indices.

    Returns
    -------
    list of dict
        One per pair, sorted by atom indices: ``atoms`` (index of the ``first`` atom, of the
        ``second``), ``bonded_at_start``, ``bonded_at_end``, ``frames_bonded`` (count),
        ``lasting_from_frame``: index of the first frame from which the pair stays as in the
        last frame, and ``lasting_from_step`` (its MD step from ``steps``, else ``None``).
    """
    from .rdf import pair_neighbors

    def bonds(atoms, frame):
        i, j = pair_neighbors(atoms, first, second, cutoff, "ij", frame=frame)
        return set(zip(i.tolist(), j.tolist()))

    before, series = bonds(start, "start"), [bonds(a, k) for k, a in enumerate(frames)]
    changes = []
    for pair in sorted(before.union(*series)):
        bonded = np.array([pair in s for s in series], dtype=bool)
        if bonded.size == 0 or (bonded.all() if pair in before else not bonded.any()):
            continue
        flips = np.flatnonzero(bonded != bonded[-1])
        lasting = int(flips[-1] + 1) if flips.size else 0
        changes.append({"atoms": [int(pair[0]), int(pair[1])], "bonded_at_start": pair in before,
                        "bonded_at_end": bool(bonded[-1]), "frames_bonded": int(bonded.sum()),
                        "lasting_from_frame": lasting,
                        "lasting_from_step": None if steps is None or steps[lasting] is None
                        else int(steps[lasting])})
    return changes
