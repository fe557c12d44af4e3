"""C–H dissociation curve in the ZIF-4 crystal: the paper's model against students.

One linker H of the 272-atom crystal (the one whose C→H ray runs furthest into a pore) is pulled
along its C→H direction, nothing else moving; each model's energy is printed relative to its
own energy at the crystal's C–H length. A student whose pairs involving H end at 3 Å sees an H
with no atom within 3 Å as alone, at an energy no training frame fixed: the curve shows whether
it has learnt the teacher's dissociation energy (issue 13, round 13). Example::

    python examples/ch_dissociation.py --models fast data/fast_model/round13/zif4_fast_r13.nequip.zip \\
        --out ch_dissociation.json

Distances in Å, energies in eV. The paper's model is read from ASEML_ZIF_SHARED_DATA (default
../shared/data/castel2024); a model is a file or a shipped name (``load_potential``).
"""
import argparse
import json
import os
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("ASEML_ZIF_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data" / "castel2024"))
DISTANCES = (1.3, 1.6, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0)


def pulled_h(atoms, probe=4.0):
    """The (C, H, unit C→H vector) whose H, put ``probe`` Å from its C, is furthest from all
    other atoms (the ray that runs furthest into a pore)."""
    symbols = np.array(atoms.get_chemical_symbols())
    heavy = np.flatnonzero(symbols != "H")
    best = None
    for h in np.flatnonzero(symbols == "H"):
        c = heavy[np.argmin(atoms.get_distances(h, heavy, mic=True))]
        vector = atoms.get_distance(c, h, mic=True, vector=True)
        unit = vector / np.linalg.norm(vector)
        room = clearance(atoms, int(c), int(h), unit, probe)
        if best is None or room > best[0]:
            best = (room, int(c), int(h), unit)
    return best[1:]


def placed(atoms, c, h, unit, distance):
    """A copy of ``atoms`` with H ``h`` at ``distance`` Å from C ``c`` along ``unit``."""
    copy = atoms.copy()
    copy.positions[h] = atoms.positions[c] + distance * unit
    return copy


def clearance(atoms, c, h, unit, distance):
    """Distance (Å) from the placed H to the nearest atom other than its C."""
    copy = placed(atoms, c, h, unit, distance)
    others = [i for i in range(len(atoms)) if i not in (c, h)]
    return float(copy.get_distances(h, others, mic=True).min())


def curve(atoms, calculator, c, h, unit, distances):
    """Energies (eV) at ``distances`` relative to the energy of ``atoms`` itself."""
    def energy(structure):
        structure.calc = calculator
        return structure.get_potential_energy()

    reference = energy(atoms.copy())
    return [energy(placed(atoms, c, h, unit, d)) - reference for d in distances]


def main(argv=None):
    from aseml_zif import load_potential
    from aseml_zif.cli.common import add_threads_argument, apply_threads
    from aseml_zif.io import read_structure

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["fast"], help="students (files or names)")
    parser.add_argument("--teacher", default=str(SHARED / "model" / "nequip_l2r6stress0.pth"))
    parser.add_argument("--structure", default=str(SHARED / "structures" / "zif4_crystal.lmp"))
    parser.add_argument("--distances", type=float, nargs="+", default=list(DISTANCES))
    parser.add_argument("--out", help="write the curves to this JSON file")
    add_threads_argument(parser)
    args = parser.parse_args(argv)
    if "teacher" in args.models:
        parser.error("'teacher' names the paper's model in the output; give the student's file")
    apply_threads(args.threads)
    atoms = read_structure(args.structure)
    c, h, unit = pulled_h(atoms)
    bond = atoms.get_distance(c, h, mic=True)
    rooms = [clearance(atoms, c, h, unit, d) for d in args.distances]
    names = {"teacher": args.teacher, **{m: m for m in args.models}}
    curves = {}
    for name, path in names.items():
        curves[name] = curve(atoms, load_potential(path, device="auto"), c, h, unit, args.distances)
    print(f"{Path(args.structure).name}: H {h} pulled off C {c} (C–H {bond:.3f} Å); "
          "E - E(crystal) in eV; clearance: the H's nearest other atom, Å")
    header = f"{'C–H (Å)':>8} {'clearance':>9} " + " ".join(f"{Path(n).stem[:18]:>18}" for n in names)
    print(header)
    for k, d in enumerate(args.distances):
        print(f"{d:8.2f} {rooms[k]:9.2f} " + " ".join(f"{curves[n][k]:+18.3f}" for n in names))
    if args.out:
        Path(args.out).write_text(json.dumps({
            "structure": args.structure, "carbon": c, "hydrogen": h, "bond_A": bond,
            "distances_A": args.distances, "clearance_A": rooms, "models": names,
            "energy_eV": curves}, indent=1))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
