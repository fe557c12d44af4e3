"""Student vs teacher along the student's own 300 K path through a new Zn–N bond.

Reads a folder made by ``python examples/glass_check.py validate300 --model M --out DIR``: per
glass, its last lasting Zn–N change (``zn_n_changes`` of ``DIR/validate300.json``, from
:func:`aseml_zif.analysis.glass.bond_changes`) and the frames of ``DIR/<glass>/trajectory.traj``,
which hold the student's energy and forces. On every ``--stride``-th frame, counted from the one
from which the change lasts, ``--before`` frames before it to ``--after`` after (clipped at the
ends of the trajectory), it compares the student with a single point of the teacher: the pair's
distance (minimum image, Å), E_student − E_teacher per cell (eV) and the force on the pair along
the Zn→N unit vector u, (F_N − F_Zn)·u / 2 (eV/Å; negative pulls them together), for both models.
The JSON is written after each glass; a rerun skips the glasses it holds. The row keys name the
student ``fast`` (``E_fast_minus_teacher_eV``, ``pair_force_fast``), as in the committed file.

``data/fast_model/round10/validate300/teacher_along_student_path.json`` (first made by an ad-hoc
script with the same selection and formulas) is, run from the repository root::

    ASEML_ZIF_SHARED_DATA=../shared/data/castel2024 python examples/teacher_along_path.py \\
        /work/runs/val300_fast --glasses ZIF4_15glass03 ZIF4_15glass04 ZIF4_15glass05 \\
        ZIF4_15glass09 --out data/fast_model/round10/validate300/teacher_along_student_path.json

Each teacher single point of a 272-atom cell takes 1.5–3 s on one CPU core.
"""
import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from glass_check import SHARED, lasting_changes, load_json, print_table, save_json  # noqa: E402

TEACHER = SHARED / "model" / "nequip_l2r6stress0.pth"
ABOUT = ("Along the student's own 300 K path (a validate300 run) around each glass's last lasting "
         "Zn-N change (validate300.json's zn_n_changes), every 'stride'-th saved frame from "
         "'before' frames before to 'after' after the frame from which it lasts ('settings'): "
         "the pair's distance d_ZnN (minimum image, \u00c5), E_fast_minus_teacher_eV = "
         "E_student - E_teacher per cell (eV; the student's as stored in its trajectory, the "
         "teacher's a single point) and the force along the Zn->N unit vector u on the pair, "
         "(F_N - F_Zn)\u00b7u / 2 (eV/\u00c5; negative pulls them together): pair_force_fast "
         "(student) and pair_force_teacher.")


def read_validate300(folder, names=None):
    """The contents of ``folder/validate300.json`` and its ``glasses`` entries (only ``names``,
    in that order, if given).

    Returns
    -------
    data : dict
    entries : list of dict

    Raises
    ------
    SystemExit
        The file is missing, or holds no glass of one of ``names``.
    """
    path = Path(folder) / "validate300.json"
    data = load_json(path)
    if data is None:
        raise SystemExit(f"{path}: no such file (make it with examples/glass_check.py validate300)")
    entries = {entry["glass"]: entry for entry in data["glasses"]}
    missing = sorted(set(names or ()) - set(entries))
    if missing:
        raise SystemExit(f"{path}: no glass {', '.join(missing)} (it has {', '.join(entries)})")
    return data, [entries[name] for name in names] if names else list(entries.values())


def last_lasting_change(changes):
    """The last change of ``changes`` (from ``bond_changes``) whose bond differs at the end from
    the start, or None."""
    lasting = lasting_changes(changes)
    return lasting[-1] if lasting else None


def path_frames(event_frame, n_frames, before=10, after=10, stride=2):
    """Indices of every ``stride``-th frame counted from ``event_frame``, from ``before`` frames
    before it to ``after`` after it, within the ``n_frames`` of the trajectory."""
    first = event_frame - before // stride * stride
    return [k for k in range(first, event_frame + after + 1, stride) if 0 <= k < n_frames]


def pair_force(forces, zn, n, u):
    """Force on the Zn–N pair along the Zn→N unit vector ``u``: (F_N − F_Zn)·u / 2 (eV/Å,
    negative pulls the two together), from ``forces`` (eV/Å, one row per atom)."""
    return float(np.dot(forces[n] - forces[zn], u) / 2)


def compare(atoms, zn, n, teacher):
    """One row: the Zn–N distance (Å), E_student − E_teacher per cell (eV) and the pair force of
    each model (eV/Å) on ``atoms``, whose calculator holds the student's results."""
    vector = atoms.get_distance(zn, n, mic=True, vector=True)
    d = float(np.linalg.norm(vector))
    other = atoms.copy()
    other.calc = teacher
    return {"d_ZnN": d,
            "E_fast_minus_teacher_eV": float(atoms.get_potential_energy() - other.get_potential_energy()),
            "pair_force_fast": pair_force(atoms.get_forces(), zn, n, vector / d),
            "pair_force_teacher": pair_force(other.get_forces(), zn, n, vector / d)}


def along_path(frames, steps, change, teacher, before=10, after=10, stride=2, report=None):
    """Compare student and teacher on the frames around ``change``.

    Parameters
    ----------
    frames : list of ase.Atoms
        The run's frames, with the student's energy (eV) and forces (eV/Å) stored.
    steps : list of int
        MD step of each frame.
    change : dict
        A change of :func:`aseml_zif.analysis.glass.bond_changes`; its ``lasting_from_step``
        must be in ``steps``.
    teacher : ase.calculators.calculator.Calculator
        Gives the single points compared with the stored results.
    before, after, stride : int
        Frames compared: see :func:`path_frames`.
    report : callable or None
        Called with each row as it is done.

    Returns
    -------
    dict
        ``event``: the change (``zn``, ``n``, ``at_start``, ``at_end``, ``frames_present``,
        ``stable_from_frame``, ``stable_from_step``); ``rows``: per frame, ``frame``, ``step``
        and the values of :func:`compare`.
    """
    (zn, n), k0 = change["atoms"], steps.index(change["lasting_from_step"])
    event = {"zn": zn, "n": n, "at_start": change["bonded_at_start"], "at_end": change["bonded_at_end"],
             "frames_present": change["frames_bonded"], "stable_from_frame": k0,
             "stable_from_step": change["lasting_from_step"]}
    rows = []
    for k in path_frames(k0, len(frames), before, after, stride):
        rows.append({"frame": k, "step": steps[k], **compare(frames[k], zn, n, teacher)})
        if report is not None:
            report(rows[-1])
    return {"event": event, "rows": rows}


def summary_row(glass, result):
    """Table row of one glass: its event, d_ZnN range (Å), mean E_student − E_teacher (eV) before
    the event's frame and from it on, and the largest pair force difference (eV/Å)."""
    event, rows = result["event"], result["rows"]
    before = [r["E_fast_minus_teacher_eV"] for r in rows if r["frame"] < event["stable_from_frame"]]
    after = [r["E_fast_minus_teacher_eV"] for r in rows if r["frame"] >= event["stable_from_frame"]]
    distances = [r["d_ZnN"] for r in rows]
    gap = max(abs(r["pair_force_fast"] - r["pair_force_teacher"]) for r in rows)
    sign = "+" if event["at_end"] else "-"
    return [glass, f"{sign}Zn{event['zn']}-N{event['n']}@{event['stable_from_step']}", len(rows),
            f"{min(distances):.2f}-{max(distances):.2f}",
            f"{np.mean(before):+.3f}" if before else "-", f"{np.mean(after):+.3f}", f"{gap:.2f}"]


def load_teacher(args):
    """The calculator of ``--teacher`` with ``--threads``; ``SystemExit`` if it cannot load."""
    from aseml_zif import load_potential
    from aseml_zif.cli.common import apply_threads
    from aseml_zif.errors import AsemlZifError

    apply_threads(args.threads)
    try:
        return load_potential(args.teacher, device="auto")
    except AsemlZifError as exc:
        raise SystemExit(f"--teacher {args.teacher}: {exc}")


def run_event(workdir, entry):
    """The frames, their MD steps and the last lasting change of one glass of validate300.json.

    Parameters
    ----------
    workdir : path-like
        The glass's run folder.
    entry : dict
        Its entry in validate300.json.

    Returns
    -------
    tuple or None
        ``(frames, steps, change)``; None, with the reason printed, when the glass has no lasting
        change or its trajectory no frame at the step from which the change lasts.
    """
    from aseml_zif.md.results import run_frames

    change = last_lasting_change(entry.get("zn_n_changes", []))
    if change is None:
        print(f"{entry['glass']}: no lasting Zn-N change in validate300.json: skipped")
        return None
    frames, source = run_frames(workdir, stage="all")
    if change["lasting_from_step"] not in source["steps"]:
        print(f"{entry['glass']}: no frame at step {change['lasting_from_step']} in {source['file']}: "
              "skipped")
        return None
    return frames, source["steps"], change


def print_row(glass, row):
    """Print one row of :func:`along_path` as it is done."""
    print(f"{glass} frame {row['frame']} step {row['step']}: d {row['d_ZnN']:.3f} Å, E_student - "
          f"E_teacher {row['E_fast_minus_teacher_eV']:+.3f} eV, pair force student "
          f"{row['pair_force_fast']:+.2f} teacher {row['pair_force_teacher']:+.2f} eV/Å", flush=True)


def main(argv=None, teacher=None):
    """Run the command line ``argv``; ``teacher`` (a calculator, e.g. in tests) replaces
    ``--teacher``. Returns the data written to ``--out``."""
    from aseml_zif.cli.common import add_threads_argument

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", help="output folder of glass_check.py validate300")
    p.add_argument("--glasses", nargs="+", help="only these glasses (default: all)")
    p.add_argument("--teacher", default=str(TEACHER), help=f"model for load_potential (default: {TEACHER})")
    p.add_argument("--before", type=int, default=10, help="frames before the event (default 10)")
    p.add_argument("--after", type=int, default=10, help="frames after the event (default 10)")
    p.add_argument("--stride", type=int, default=2, help="every N-th frame (default 2)")
    p.add_argument("--out", default="teacher_along_student_path.json")
    add_threads_argument(p)
    args = p.parse_args(argv)
    if args.before < 0 or args.after < 0 or args.stride < 1:
        p.error("need --before >= 0, --after >= 0 and --stride >= 1")
    validate300, entries = read_validate300(args.folder, args.glasses)
    settings = {"student": validate300["model"], "teacher": args.teacher, "before": args.before,
                "after": args.after, "stride": args.stride}
    data = load_json(args.out, {"about": ABOUT, "settings": settings, "glasses": {}})
    if data.get("settings", settings) != settings:  # one made before they were recorded: as is
        raise SystemExit(f"{args.out} was made with {data['settings']}, not {settings}: use another --out")
    table = []
    for entry in entries:
        glass = entry["glass"]
        if glass in data["glasses"]:
            print(f"{glass}: done already ({args.out})")
        else:
            found = run_event(Path(args.folder) / glass, entry)
            if found is None:
                continue
            teacher = load_teacher(args) if teacher is None else teacher
            data["glasses"][glass] = along_path(*found, teacher, args.before, args.after, args.stride,
                                                report=partial(print_row, glass))
            save_json(args.out, data)
        table.append(summary_row(glass, data["glasses"][glass]))
    print_table(["glass", "event (from step)", "frames", "d_ZnN Å", "dE before eV", "dE from event eV",
                 "max |dF pair| eV/Å"], table)
    print("dE = E_student - E_teacher per cell; dF pair: student - teacher force on the pair along Zn->N")
    return data


if __name__ == "__main__":
    main()
