"""Frames of the fast ZIF-4 student's data (issue 13): extra candidates (rattled snapshots, hot
frames with one linker bond stretched or one H pulled off), teacher labels in workers, and the compressed npz they are
shipped in. Stages 1b-1d, 3 and 4 of ``make_fast_model.py``, which runs them (``snapshots``,
``stretched``, ``detached``, ``label``, ``merge``, ``pack``, ``unpack``); see its docstring for the commands."""
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_demo_model as demo  # noqa: E402  (unlabelled copies of frames)

#: atoms.info keys of candidates; everything else (labels, student results) is stripped
TAGS = ("source", "group", "kind", "origin", "step", "target_temperature_K", "stretched_atoms",
        "stretched_to")
PACKED_STRINGS = ("file_stem", "source", "group", "kind", "origin")
#: distances (Å) a stretched bond is given, drawn uniformly, by kind (:func:`stretched_bond_frames`)
STRETCH_RANGES = {"ring": (1.55, 2.2), "CH": (1.25, 1.9)}
#: kind of each covalent bond of an imidazolate, by element pair (sorted, as the bond criteria)
BOND_KINDS = {("C", "C"): "ring", ("C", "N"): "ring", ("C", "H"): "CH"}


# ------------------------------------------------------------------------------- helpers
def bare(atoms, info):
    """A wrapped copy with only species, positions and cell (no results, momenta or masses)."""
    frame = demo.unlabelled_copy(atoms, info.get("source"))
    for key in [k for k in frame.arrays if k not in ("numbers", "positions")]:
        del frame.arrays[key]
    frame.info = dict(info)
    return frame


def write_atomically(frames, path):
    from aseml_zif.data import write_frames

    partial = path.with_name(f".{path.stem}.partial{path.suffix}")
    write_frames(frames, partial)
    os.replace(partial, path)


# ------------------------------------------------------------------------------- 1b. snapshots
def snapshot_copies(inp, out, copies=3, sigma=0.05, seed=15):
    """Candidates from snapshots saved elsewhere (e.g. a melt-quench's watchdog stops).

    Each frame of ``inp`` (positions and cell; its tags are kept) is followed by ``copies``
    copies displaced by ``sigma`` Å per component (origin ``watchdog_rattle<σ>``), as the hot
    runs of the candidates stage do with their own stops. Frame ``i``'s copies use the random
    stream ``(seed, i, 1)``, so the file is the same whenever it is remade.
    """
    frames = []
    for i, snap in enumerate(unlabelled(inp)):
        frames.append(snap)
        rng = np.random.default_rng([seed, i, 1])
        frames += [bare(demo.rattled(snap, sigma, rng),
                        {**snap.info, "origin": f"watchdog_rattle{sigma:g}"})
                   for _ in range(copies)]
    write_atomically(frames, Path(out))
    print(f"{out}: {len(frames)} frames", flush=True)


# ------------------------------------------------------------------------------- 1c. stretched bonds
def linker_bonds(atoms):
    """The covalent bonds inside the intact linkers of a frame, by kind.

    Linkers are those :func:`aseml_zif.analysis.find_linkers` finds intact; two atoms of one
    linker are bonded when their minimum-image distance is below their pair's criterion in
    :data:`aseml_zif.analysis.linker_bonds.DEFAULT_BOND_CUTOFFS` (C–N, C–C 1.8 Å; C–H 1.6 Å).

    Parameters
    ----------
    atoms : ase.Atoms

    Returns
    -------
    dict
        ``{"ring": pairs, "CH": pairs}``: int arrays of shape ``(n, 2)`` of atom indices, the
        ring bonds (C–N, C–C) and the C–H bonds.
    """
    from itertools import combinations

    from ase.geometry import find_mic

    from aseml_zif.analysis import find_linkers
    from aseml_zif.analysis.linker_bonds import DEFAULT_BOND_CUTOFFS

    pairs = np.array([p for linker in find_linkers(atoms).linkers for p in combinations(sorted(linker), 2)],
                     dtype=np.int64).reshape(-1, 2)
    _, distance = find_mic(atoms.positions[pairs[:, 1]] - atoms.positions[pairs[:, 0]], atoms.cell,
                           atoms.pbc)
    elements = [tuple(sorted(p)) for p in np.array(atoms.get_chemical_symbols())[pairs]]
    bonded = distance < np.array([DEFAULT_BOND_CUTOFFS.get(e, 0.0) for e in elements])
    kind = np.array([BOND_KINDS.get(e, "") for e in elements])
    return {k: pairs[bonded & (kind == k)] for k in STRETCH_RANGES}


def moved_apart(atoms, i, j, distance):
    """A copy of ``atoms`` in which atoms ``i`` and ``j`` are ``distance`` Å apart.

    Both move by the same amount in opposite directions along their minimum-image vector (apart,
    or together for a shorter ``distance``); no other atom moves and nothing is wrapped. The copy
    has species, positions, cell, pbc and a copy of ``info``: no momenta, masses or results.
    """
    from ase import Atoms
    from ase.geometry import find_mic

    (vector,), (now,) = find_mic(atoms.positions[[j]] - atoms.positions[[i]], atoms.cell, atoms.pbc)
    shift = 0.5 * (distance / now - 1.0) * vector
    positions = atoms.positions.copy()
    positions[i] -= shift
    positions[j] += shift
    return Atoms(numbers=atoms.numbers, positions=positions, cell=atoms.cell, pbc=atoms.pbc,
                 info=dict(atoms.info))


def stretched_bond_frames(frames, n, rng, ranges=None):
    """Copies of hot frames with one covalent bond of a linker stretched (or compressed).

    Candidates that show the teacher's restoring force on an imidazolate bond pulled far past
    its length, where a student may let the ring open at 1500 K. Most stretched bonds are longer
    than the bond criteria (C–N, C–C 1.8 Å; C–H 1.6 Å): the linker counts as broken and a
    watchdog would stop MD on such a frame; they are for labels, not MD starts.

    Parameters
    ----------
    frames : list of ase.Atoms
        Hot MD frames of intact ZIF-4, tagged as by the candidates stage (``source``, ``group``,
        ``kind``, ...).
    n : int
        Number of frames made.
    rng : numpy.random.Generator
        For each frame made, in this order: the frame (uniform), the kind of bond (``ring``: C–N
        or C–C; ``CH``: C–H; equal odds), the bond among that kind in the frame's intact linkers
        (:func:`linker_bonds`; uniform) and its new length (uniform in the kind's range). The
        same generator state gives the same frames.
    ranges : dict, optional
        ``{kind: (low, high)}`` in Å, overriding entries of :data:`STRETCH_RANGES`
        (``ring`` 1.55–2.2 Å, ``CH`` 1.25–1.9 Å).

    Returns
    -------
    list of ase.Atoms
        :func:`moved_apart` copies; ``info`` is the frame's with ``origin="stretched"``,
        ``stretched_atoms=(i, j)`` (``i < j``) and ``stretched_to`` (the new length, Å).

    Raises
    ------
    ValueError
        A frame drawn has no bond of the kind drawn (no intact linker).
    """
    ranges = {**STRETCH_RANGES, **(ranges or {})}
    kinds = list(STRETCH_RANGES)
    bonds = {}  # per frame index, found when first drawn
    out = []
    for _ in range(n):
        k = int(rng.integers(len(frames)))
        kind = kinds[rng.integers(len(kinds))]
        if k not in bonds:
            bonds[k] = linker_bonds(frames[k])
        pairs = bonds[k][kind]
        if not len(pairs):
            info = frames[k].info
            raise ValueError(f"frame {k} ({info.get('source')} step {info.get('step')}) has no "
                             f"{kind} bond in an intact linker")
        i, j = (int(a) for a in pairs[rng.integers(len(pairs))])
        distance = float(rng.uniform(*ranges[kind]))
        frame = moved_apart(frames[k], i, j, distance)
        frame.info.update(origin="stretched", stretched_atoms=(i, j), stretched_to=distance)
        out.append(frame)
    return out


def stretched_copies(inputs, out, n=100, seed=0, exclude_groups=(), stage="all"):
    """Write ``n`` :func:`stretched_bond_frames` to ``out``, for the label stage.

    They are made from the ``hot`` frames of ``inputs`` whose ``group`` is not in
    ``exclude_groups`` (the held-out groups), with the random stream ``seed``. An input is a
    candidate file (tags kept, results dropped, as :func:`unlabelled` reads it) or an
    :func:`aseml_zif.md.run` folder, whose intact frames of stage ``stage`` are taken
    (:func:`run_candidates`: hot at a target of 1000 K or more).
    """
    exclude_groups = set(exclude_groups)
    frames = [f for path in inputs
              for f in (run_candidates(path, stage) if Path(path).is_dir() else unlabelled(path))
              if f.info.get("kind") == "hot" and f.info.get("group") not in exclude_groups]
    if not frames:
        raise SystemExit(f"no hot frames outside the groups {sorted(exclude_groups)} in {inputs}")
    write_atomically(stretched_bond_frames(frames, n, np.random.default_rng(seed)), Path(out))
    print(f"{out}: {n} frames, each with one linker bond stretched, from {len(frames)} hot frames",
          flush=True)


# ------------------------------------------------------------------------------- 1d. detached H
def detached_h_frames(frames, n, rng, distances=(1.9, 4.5), min_clearance=1.6, tries=100):
    """Copies of MD frames with one linker H pulled off its C into free space.

    A student whose pairs involving H end at 3 Å (round 5 on) sees an H with no atom within
    3 Å as alone, with an energy the training frames never fixed: round 10 put such an H 2.1 eV
    above its bonded state in the ZIF-4 crystal, where the paper's model rises to 5.7 eV
    (C–H pulled to 5 Å), and lost an H for good after 27 ps at 1500 K in the paper's
    melt-quench (seed 2). These copies carry the teacher's dissociation energy and forces.

    Parameters
    ----------
    frames : list of ase.Atoms
        Hot MD frames of intact ZIF-4 (tags kept in each copy's ``info``).
    n : int
        Number of frames made.
    rng : numpy.random.Generator
        For each frame made: the frame (uniform), the C–H bond among its intact linkers'
        (:func:`linker_bonds`, uniform) and the new C–H distance (uniform in ``distances``);
        drawn again, up to ``tries`` times, while another atom would be closer than
        ``min_clearance`` to the moved H.
    distances : (float, float)
        Range of the new C–H distance, Å (past the 1.6 Å C–H bond criterion).
    min_clearance : float
        Smallest distance, Å, from the moved H to any atom but its C.

    Returns
    -------
    list of ase.Atoms
        Copies in which only the H moved, along its C→H direction; ``info`` is the frame's with
        ``origin="detached_H"``, ``stretched_atoms=(C, H)`` and ``stretched_to`` (Å).

    Raises
    ------
    ValueError
        No placement with the clearance was found in ``tries`` draws.
    """
    from ase import Atoms
    from ase.geometry import find_mic

    bonds = {k: linker_bonds(f)["CH"] for k, f in enumerate(frames)}
    usable = [k for k, pairs in bonds.items() if len(pairs)]
    if not usable:
        raise ValueError("no frame has a C–H bond in an intact linker")
    out = []
    for _ in range(n):
        for _ in range(tries):
            k = usable[rng.integers(len(usable))]
            pair = bonds[k][rng.integers(len(bonds[k]))]
            atoms = frames[k]
            c, h = (int(a) for a in (pair if atoms[int(pair[0])].symbol == "C" else pair[::-1]))
            distance = float(rng.uniform(*distances))
            (vector,), (now,) = find_mic(atoms.positions[[h]] - atoms.positions[[c]], atoms.cell,
                                         atoms.pbc)
            positions = atoms.positions.copy()
            positions[h] = positions[c] + vector * (distance / now)
            frame = Atoms(numbers=atoms.numbers, positions=positions, cell=atoms.cell,
                          pbc=atoms.pbc, info=dict(atoms.info))
            others = [i for i in range(len(frame)) if i not in (c, h)]
            if frame.get_distances(h, others, mic=True).min() >= min_clearance:
                break
        else:
            raise ValueError(f"no H placed {distances} Å from its C with {min_clearance} Å "
                             f"clearance in {tries} draws")
        frame.info.update(origin="detached_H", stretched_atoms=(c, h), stretched_to=distance)
        out.append(frame)
    return out


def run_candidates(workdir, stage):
    """Frames of stage ``stage`` of an :func:`aseml_zif.md.run` folder whose linkers are all
    intact, tagged as candidates: ``source`` and ``group`` the folder's name, ``origin="md"``,
    ``kind="hot"`` at a target of 1000 K or more, else ``"cold"``."""
    from aseml_zif.analysis import find_linkers
    from aseml_zif.md.results import run_frames

    name = Path(workdir).name
    frames = []
    for f in run_frames(workdir, stage=stage)[0]:
        if not find_linkers(f).intact:
            continue
        target = f.info.get("target_temperature_K")
        frames.append(bare(f, {"source": name, "group": name, "origin": "md",
                               "kind": "hot" if target is not None and target >= 1000 else "cold",
                               "step": f.info.get("step"), "target_temperature_K": target}))
    return frames


def detached_copies(runs, out, n=200, seed=0, stage="plateau", min_clearance=1.6):
    """Write ``n`` :func:`detached_h_frames` made from the intact ``stage`` frames of the MD run
    folders ``runs`` (:func:`run_candidates`; e.g. a student's melt-quench), for the label stage;
    ``min_clearance`` (Å) as there: the distance to every atom but the H's own C (with 3 Å, the
    copies whose C–H is also 3 Å or more leave an H that a student with 3 Å H pairs sees alone)."""
    frames = [f for run in runs for f in run_candidates(run, stage)]
    if not frames:
        raise SystemExit(f"no intact frames of stage {stage!r} in {runs}")
    write_atomically(detached_h_frames(frames, n, np.random.default_rng(seed),
                                       min_clearance=min_clearance), Path(out))
    print(f"{out}: {n} frames, each with one H pulled off its C, from {len(frames)} frames",
          flush=True)


# ------------------------------------------------------------------------------- 3. label
def part_path(out, worker, workers):
    out = Path(out)
    return out.with_name(f"{out.stem}.part{worker}of{workers}{out.suffix}")


def chunk(n, worker, workers):
    """Frames ``[lo, hi)`` of worker ``worker`` among ``workers`` (contiguous, in order)."""
    return n * worker // workers, n * (worker + 1) // workers


def unlabelled(path):
    """The frames of ``path`` without any result (a student's labels are never passed on)."""
    from aseml_zif.data import read_frames

    return [bare(f, {k: v for k, v in f.info.items() if k in TAGS}) for f in read_frames(path)]


def label(inp, out, teacher, compile=False, worker=None, workers=None, threads=1):
    import aseml_zif
    from aseml_zif.cli.common import apply_threads
    from aseml_zif.data import label as label_frames

    frames = unlabelled(inp)
    if workers:
        if not 0 <= worker < workers:
            raise SystemExit(f"--worker must be in 0..{workers - 1}")
        lo, hi = chunk(len(frames), worker, workers)
        frames, out = frames[lo:hi], part_path(out, worker, workers)
        print(f"worker {worker}/{workers}: frames {lo}..{hi - 1} -> {out}", flush=True)
    apply_threads(threads)
    label_frames(frames, aseml_zif.load_potential(teacher, device="cpu", compile=compile), out)


def merge(inp, out, workers):
    """Join the workers' files in order, after checking that each is complete."""
    from aseml_zif.data import read_frames

    n = len(read_frames(inp))
    texts = []
    for k in range(workers):
        lo, hi = chunk(n, k, workers)
        part = part_path(out, k, workers)
        got = len(read_frames(part)) if part.exists() else 0
        if got != hi - lo:
            raise SystemExit(f"{part}: {got} of {hi - lo} frames labelled; finish worker {k} first")
        texts.append(part.read_text())
    partial = Path(out).with_name(f".{Path(out).name}.partial")
    partial.write_text("".join(texts))
    os.replace(partial, out)
    print(f"{out}: {n} frames from {workers} workers", flush=True)


# ------------------------------------------------------------------------------- 4. pack
def pack(output, files, max_force=None):
    """Labelled frames of ``files`` in one compressed npz: float32 positions, cell, forces and
    stress (eV/Å³), float64 energies (eV), uint8 numbers, the tags, and each frame's file stem.

    ``max_force`` (eV/Å): leave out, naming them, frames on which the teacher returned a force
    component larger than this. Such frames are collapsed structures far outside what the teacher
    was trained on (in round 2 a watchdog snapshot with two atoms 0.45 Å apart got up to
    1.2·10⁶ eV/Å and −164 eV/atom): labels no model should learn, which would swamp a
    squared-error loss.
    """
    from aseml_zif.data import read_frames

    rows = [(Path(p).stem, f) for p in files for f in read_frames(p)]
    if max_force is not None:
        kept = []
        for name, f in rows:
            largest = float(np.abs(f.get_forces()).max()) if f.calc is not None else 0.0
            if largest > max_force:
                print(f"left out: {name} {f.info.get('source')} {f.info.get('origin')} step "
                      f"{f.info.get('step')}: teacher force {largest:.3g} eV/Å > {max_force:g}",
                      flush=True)
            else:
                kept.append((name, f))
        rows = kept
    if not rows:
        raise SystemExit("no frames to pack")
    frames = [f for _, f in rows]
    try:
        data = {
            "n_atoms": np.array([len(f) for f in frames], np.int32),
            "numbers": np.concatenate([f.numbers for f in frames]).astype(np.uint8),
            "positions": np.concatenate([f.positions for f in frames]).astype(np.float32),
            "forces": np.concatenate([f.get_forces() for f in frames]).astype(np.float32),
            "cell": np.array([f.cell[:] for f in frames], np.float32),
            "pbc": np.array([f.pbc for f in frames], bool),
            "energy": np.array([f.get_potential_energy() for f in frames], np.float64),
            "stress": np.array([f.get_stress(voigt=True) for f in frames], np.float32),
        }
    except Exception as exc:  # a frame without energy, forces or stress
        raise SystemExit(f"every frame needs energy, forces and stress: {exc}")
    data["step"] = np.array([f.info.get("step", -1) for f in frames], np.int32)
    data["target_temperature_K"] = np.array(
        [f.info.get("target_temperature_K", np.nan) for f in frames])
    data["stretched_atoms"] = np.array([f.info.get("stretched_atoms", (-1, -1)) for f in frames],
                                       np.int32).reshape(-1, 2)
    data["stretched_to"] = np.array([f.info.get("stretched_to", np.nan) for f in frames])
    data["file_stem"] = np.array([name for name, _ in rows])
    for key in PACKED_STRINGS[1:]:
        data[key] = np.array([str(f.info.get(key, "")) for f in frames])
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output, **data)
    size = Path(output).stat().st_size
    print(f"{output}: {len(frames)} frames from {len(files)} files, {size / 1e6:.1f} MB", flush=True)


def unpack_frames(path):
    """The frames of a packed file (labels as single-point results), with their file names."""
    from ase import Atoms

    from aseml_zif.data import with_labels

    with np.load(path) as data:
        d = {k: data[k] for k in data.files}
    ends = np.cumsum(d["n_atoms"])
    stretched_to = d.get("stretched_to", np.full(len(ends), np.nan))  # not in files packed before
    rows = []
    for k, (lo, hi) in enumerate(zip(ends - d["n_atoms"], ends)):
        atoms = Atoms(numbers=d["numbers"][lo:hi], positions=d["positions"][lo:hi],
                      cell=d["cell"][k], pbc=d["pbc"][k])
        info = {key: str(d[key][k]) for key in PACKED_STRINGS[1:] if d[key][k]}
        if d["step"][k] >= 0:
            info["step"] = int(d["step"][k])
        if np.isfinite(d["target_temperature_K"][k]):
            info["target_temperature_K"] = float(d["target_temperature_K"][k])
        if np.isfinite(stretched_to[k]):
            info["stretched_atoms"] = tuple(int(a) for a in d["stretched_atoms"][k])
            info["stretched_to"] = float(stretched_to[k])
        atoms.info = info
        rows.append((str(d["file_stem"][k]), with_labels(atoms, d["energy"][k], d["forces"][lo:hi],
                                                    d["stress"][k])))
    return rows


def unpack(path, out_dir):
    """Write the packed frames back to extxyz, one ``OUT_DIR/<file>.xyz`` per packed file."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = unpack_frames(path)
    for name in dict.fromkeys(n for n, _ in rows):
        frames = [f for n, f in rows if n == name]
        write_atomically(frames, out_dir / f"{name}.xyz")
        print(f"{out_dir / name}.xyz: {len(frames)} frames", flush=True)
