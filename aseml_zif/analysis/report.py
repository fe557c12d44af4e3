"""One-call structural report of a ZIF structure or trajectory, with the paper's figures.

Gathers the analyses of Castel et al., Digital Discovery 3, 355 (2024): Zn–N coordination
(2.5 Å), partial RDFs and their potentials of mean force, the N–Zn–N angle distribution and
its PMF, primitive ring statistics of the Zn–Im net, pore volume (He probe) and linker
integrity; optionally the MSD when the frames form a trajectory with a known time step.
"""
import json
from pathlib import Path

import numpy as np

from .._progress import progress_bar
from .._deprecation import RenamedKeys
from ..errors import AsemlZifError
from .angles import BondAngles
from .coordination import Coordination
from .frames import as_frame_list
from .linkers import find_linkers
from .msd import MSD
from .pores import pore_volume
from .rdf import RDF
from .rings import RingStatistics

__all__ = ["analyze"]

#: Pairs whose RDF and PMF the paper shows.
DEFAULT_PAIRS = (("Zn", "N"), ("Zn", "Zn"))


def _json_safe(value):
    """Replace non-finite floats (an unbounded PMF is +inf) by None, recursively."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def _evenly_spaced(n_frames, n_max):
    """Indices of at most ``n_max`` frames spread over ``n_frames`` (first and last kept)."""
    if n_frames <= n_max:
        return list(range(n_frames))
    return sorted(set(np.linspace(0, n_frames - 1, n_max).round().astype(int).tolist()))


def _linker_summary(frames, zn_n_cutoff):
    per_frame = [find_linkers(atoms, zn_n_cutoff=zn_n_cutoff) for atoms in
                 progress_bar(frames, desc="linker integrity", disable=len(frames) < 20,
                              leave=False)]
    first_bad = next((k for k, r in enumerate(per_frame) if not r.intact), None)
    return {
        "n_intact_per_frame": [r.n_intact for r in per_frame],
        "n_broken_per_frame": [len(r.broken) for r in per_frame],
        "first_frame_with_broken_linker": first_bad,
        "first_problem": per_frame[first_bad].to_dict() if first_bad is not None else None,
        "last_frame": per_frame[-1].to_dict(),
    }


def _pore_summary(frames, probe_radius):
    results = [pore_volume(atoms, probe_radius=probe_radius)
               for atoms in progress_bar(frames, desc="pore volume", disable=len(frames) < 2,
                                         leave=False)]
    summary = {"probe_radius": probe_radius, "n_frames": len(results)}
    for name in ("total", "accessible", "non_accessible"):
        values = np.array([r[f"{name}_cm3_per_kg"] for r in results])
        for part, value in (("", float(values.mean())), ("_std", float(values.std())),
                            ("_per_frame", values.tolist())):
            summary[f"{name}{part}_cm3_per_kg"] = value
    return summary


#: keys of the report's ``pore_volume`` before they carried their unit (read with a warning)
_PORE_KEYS_RENAMED = {f"{name}{part}": f"{name}{part}_cm3_per_kg"
                      for name in ("total", "accessible", "non_accessible")
                      for part in ("", "_std", "_per_frame")}


def _figures(outdir, rdfs, angles, rings, coordination, temperature, msd):
    from matplotlib.figure import Figure

    paths = []

    def save(fig, name):
        fig.tight_layout()
        path = outdir / name
        fig.savefig(path, dpi=120)
        paths.append(path.name)

    fig = Figure(figsize=(4.2 * len(rdfs), 6.4))
    axes = fig.subplots(2, len(rdfs), squeeze=False)
    for col, rdf in enumerate(rdfs):
        rdf.plot(ax=axes[0, col])
        pmf = rdf.pmf(temperature)
        finite = np.isfinite(pmf)
        axes[1, col].plot(rdf.bin_centers[finite], pmf[finite])
        axes[1, col].set_xlabel("r (Å)")
        axes[1, col].set_ylabel(f"PMF {'–'.join(rdf.pair)} (kJ/mol)")
    save(fig, "rdf_pmf.png")

    fig = Figure(figsize=(8.4, 3.4))
    left, right = fig.subplots(1, 2)
    angles.plot(ax=left)
    pmf = angles.pmf(temperature)
    finite = np.isfinite(pmf)
    right.plot(angles.bin_centers[finite], pmf[finite])
    right.set_xlabel(f"{angles.neighbor}–{angles.center}–{angles.neighbor} angle (°)")
    right.set_ylabel("PMF (kJ/mol)")
    save(fig, "angles_pmf.png")

    if rings is not None:
        fig = Figure(figsize=(5, 3.4))
        rings.plot(ax=fig.subplots(), per_zn=True)
        save(fig, "rings.png")

    fig = Figure(figsize=(4.2, 3.4))
    coordination.plot(ax=fig.subplots())
    save(fig, "coordination.png")

    if msd is not None:
        fig = Figure(figsize=(5, 3.4))
        msd.plot(ax=fig.subplots())
        save(fig, "msd.png")
    return paths


def analyze(frames, outdir=None, temperature=300.0, stride=1, pairs=DEFAULT_PAIRS,
            r_max=10.0, zn_n_cutoff=2.5, rings=True, max_ring_depth=32, pores=True,
            probe_radius=1.2, max_structure_frames=10, timestep_fs=None):
    """Structural analysis of one structure or a trajectory, as a JSON-able dict.

    Parameters
    ----------
    frames : ase.Atoms, list of Atoms, or path
        Structures to analyse (a trajectory file is read with all its frames).
    outdir : str or path, optional
        If given, write ``report.json`` and PNG figures mirroring the paper's: RDF and PMF
        panels (``rdf_pmf.png``), N–Zn–N distribution and PMF (``angles_pmf.png``), ring-size
        histogram (``rings.png``), Zn–N coordination (``coordination.png``) and, with
        ``timestep_fs``, the MSD (``msd.png``).
    temperature : float
        Temperature (K) of the potentials of mean force.
    stride : int
        Use every ``stride``-th frame.
    pairs : sequence of (str, str)
        Element pairs of the RDFs/PMFs.
    r_max : float
        RDF range, Å.
    zn_n_cutoff : float
        Zn–N bond cut-off (Å) for coordination, angles, linkers and rings.
    rings, pores : bool
        Compute primitive rings / pore volume (the costly parts; they use at most
        ``max_structure_frames`` frames spread evenly over the trajectory).
    max_ring_depth : int
        Largest ring searched, in Zn + Im nodes.
    probe_radius : float
        Probe radius of the pore volume, Å.
    max_structure_frames : int
        Frames used for rings and pore volume.
    timestep_fs : float, optional
        Time between consecutive input frames (fs); when given and there are at least 3
        frames, the MSD per element is added.

    Returns
    -------
    dict
        ``coordination``, ``rdf`` (per pair, with ``pmf_kJ_mol``), ``angles`` (with
        ``pmf_kJ_mol``), ``rings``, ``pore_volume``, ``linkers``, optionally ``msd``, and
        ``figures`` (file names) when ``outdir`` is given. Unbounded PMF values are None.
    """
    frames = as_frame_list(frames, stride)
    heavy = [frames[k] for k in _evenly_spaced(len(frames), max_structure_frames)]
    steps = ["coordination", "RDF", "angles", "linkers"] + (["rings"] if rings else []) \
        + (["pores"] if pores else []) + (["MSD"] if timestep_fs and len(frames) >= 3 else [])
    bar = progress_bar(total=len(steps), desc="analyze",
                       disable=len(frames) < 2 and not (rings or pores))
    report = {"n_frames": len(frames), "n_atoms": len(frames[0]),
              "formula": frames[0].get_chemical_formula(), "temperature_K": temperature}

    def done(name):
        bar.set_postfix_str(name, refresh=False)
        bar.update()

    coordination = Coordination("Zn", "N", zn_n_cutoff).compute(frames)
    report["coordination"] = coordination.to_dict()
    done("coordination")

    rdfs = [RDF(pair, r_max=r_max).compute(frames) for pair in pairs]
    report["rdf"] = {"-".join(rdf.pair): dict(rdf.to_dict(), pmf_kJ_mol=rdf.pmf(temperature).tolist())
                     for rdf in rdfs}
    done("RDF")

    angles = BondAngles("Zn", "N", zn_n_cutoff).compute(frames)
    report["angles"] = dict(angles.to_dict(), pmf_kJ_mol=angles.pmf(temperature).tolist())
    done("angles")

    report["linkers"] = _linker_summary(frames, zn_n_cutoff)
    done("linkers")

    ring_stats = None
    if rings:
        ring_stats = RingStatistics(max_depth=max_ring_depth, zn_n_cutoff=zn_n_cutoff)
        ring_stats.compute(heavy, progress=False)
        report["rings"] = ring_stats.to_dict()
        done("rings")
    if pores:
        report["pore_volume"] = _pore_summary(heavy, probe_radius)
        done("pores")
    msd = None
    if "MSD" in steps:
        msd = MSD(timestep_fs * stride).compute(frames)
        report["msd"] = msd.to_dict()
        done("MSD")
    bar.close()

    if outdir is not None:
        outdir = Path(outdir)
        try:
            outdir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AsemlZifError(f"{outdir}: cannot create the report folder ({exc})") from exc
        report["figures"] = _figures(outdir, rdfs, angles, ring_stats, coordination,
                                     temperature, msd)
    report = _json_safe(report)
    if pores:
        report["pore_volume"] = RenamedKeys(report["pore_volume"], _PORE_KEYS_RENAMED,
                                            "analyze: pore_volume")
    if outdir is not None:
        with open(outdir / "report.json", "w") as fh:
            json.dump(report, fh, indent=1, allow_nan=False)
    return report
