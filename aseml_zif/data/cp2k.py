"""Read CP2K ab initio MD output into labelled ASE frames.

A CP2K MD run with project name ``ZIF4-1500K`` writes, next to each other,
``ZIF4-1500K-pos-1.xyz`` (positions, Å; the comment line is
`` i = <step>, time = <fs>, E = <Hartree>``), ``ZIF4-1500K-frc-1.xyz`` (forces, Hartree/Bohr),
``ZIF4-1500K-1.ener`` (step, time/fs, kinetic/Ha, T/K, potential/Ha, conserved/Ha, used time/s),
``ZIF4-1500K-1.cell`` (step, time, A, B, C row vectors in Å, volume) and
``ZIF4-1500K-1.stress`` (step, time, pressure tensor xx xy xz yx yy yz zx zy zz in bar).
This is how the reference data of Castel et al., Digital Discovery 3, 355 (2024) were produced
(PBE-D3 AIMD of ZIF-4 at several temperatures and volumes).

Conventions of the returned frames: energy in eV (``E × Hartree``), forces in eV/Å
(``F × Hartree/Bohr``), stress in eV/Å³ with ASE's sign (``stress = −P × bar``: CP2K prints a
pressure tensor, positive under compression, ASE's stress is its negative). In MD the printed
pressure tensor can include the ionic kinetic contribution; the paper trained with stress weight 0.
"""
import re
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.data import atomic_numbers

from ..errors import Cp2kFormatError
from .store import with_labels

__all__ = ["read_cp2k"]

_HEADER = re.compile(
    r"i\s*=\s*(?P<step>-?\d+)\s*,\s*time\s*=\s*(?P<time>\S+?)\s*,\s*E\s*=\s*(?P<energy>\S+)"
)
_TABLE_COLUMNS = {"ener": 7, "cell": 12, "stress": 11}


def _lines(path):
    try:
        return Path(path).read_text().splitlines()
    except UnicodeDecodeError as exc:
        raise Cp2kFormatError(f"{path}: not a text file (byte {exc.start} is not UTF-8)") from None


def _finite(fields, path, where):
    """The fields as floats; Cp2kFormatError naming ``path`` and ``where`` if one is not a finite
    number."""
    try:
        values = np.array([float(x) for x in fields])
    except ValueError:
        values = np.array([np.nan])
    if not np.isfinite(values).all():
        raise Cp2kFormatError(f"{path}: {where}: not finite numbers: {' '.join(fields)!r}")
    return values


def _read_xyz_blocks(path):
    """Return ``{step: (time_fs, energy_Ha, symbols, xyz)}`` of a CP2K ``.xyz`` trajectory.

    A step printed twice (restarted run) keeps its last occurrence.
    """
    lines = _lines(path)
    blocks = {}
    k = 0
    while k < len(lines):
        if not lines[k].strip():
            k += 1
            continue
        try:
            natoms = int(lines[k].split()[0])
        except ValueError:
            natoms = 0
        if natoms < 1:
            raise Cp2kFormatError(f"{path}: line {k + 1}: expected an atom count")
        if k + 1 >= len(lines):
            raise Cp2kFormatError(f"{path}: line {k + 2}: file ends before the comment line")
        match = _HEADER.search(lines[k + 1])
        if match is None:
            raise Cp2kFormatError(
                f"{path}: line {k + 2}: comment is not ' i = <step>, time = <fs>, E = <Hartree>'"
            )
        step = int(match["step"])
        time_fs, energy = _finite([match["time"], match["energy"]], path, f"line {k + 2}")
        body = lines[k + 2 : k + 2 + natoms]
        if len(body) < natoms:
            raise Cp2kFormatError(
                f"{path}: step {step} is truncated ({len(body)} of {natoms} atom lines)"
            )
        symbols, xyz = [], np.empty((natoms, 3))
        for n, line in enumerate(body):
            fields = line.split()
            where = f"step {step}, atom {n + 1} (line {k + 3 + n})"
            if len(fields) < 4 or fields[0] not in atomic_numbers:
                raise Cp2kFormatError(f"{path}: {where}: malformed '{line}'")
            xyz[n] = _finite(fields[1:4], path, where)
            symbols.append(fields[0])
        blocks[step] = (time_fs, energy, symbols, xyz)
        k += 2 + natoms
    if not blocks:
        raise Cp2kFormatError(f"{path}: no frames")
    return blocks


def _read_table(path, kind):
    """Return ``{step: row}`` of a ``#``-headed CP2K table; a repeated step keeps its last row."""
    rows = {}
    ncol = _TABLE_COLUMNS[kind]
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split()
        values = _finite(fields, path, f"line {number}")
        if len(values) != ncol:
            step = fields[0] if fields else "?"
            raise Cp2kFormatError(
                f"{path}: step {step} (line {number}) has {len(values)} columns, expected {ncol} "
                "(truncated file?)"
            )
        rows[int(values[0])] = values
    if not rows:
        raise Cp2kFormatError(f"{path}: no data rows")
    return rows


def _check_steps(reference_path, reference_steps, path, steps):
    missing = sorted(set(reference_steps) - set(steps))
    extra = sorted(set(steps) - set(reference_steps))
    if missing or extra:
        where = f"step {missing[0]} missing" if missing else f"step {extra[0]} not in {reference_path}"
        raise Cp2kFormatError(
            f"{path}: {len(steps)} steps vs {len(reference_steps)} in {reference_path} ({where})"
        )


def _sibling(prefix, suffix):
    path = Path(f"{prefix}{suffix}")
    return path if path.is_file() else None


def _read_one(prefix, source, cell):
    pos_path = _sibling(prefix, "-pos-1.xyz")
    if pos_path is None:
        raise Cp2kFormatError(f"{prefix}-pos-1.xyz: no such file (CP2K positions are required)")
    positions = _read_xyz_blocks(pos_path)
    steps = sorted(positions)
    tables = {}
    for kind, suffix in (("ener", "-1.ener"), ("cell", "-1.cell"), ("stress", "-1.stress")):
        path = _sibling(prefix, suffix)
        if path is not None:
            tables[kind] = (path, _read_table(path, kind))
            _check_steps(pos_path, steps, path, tables[kind][1])
    frc_path = _sibling(prefix, "-frc-1.xyz")
    forces = None
    if frc_path is not None:
        forces = _read_xyz_blocks(frc_path)
        _check_steps(pos_path, steps, frc_path, forces)
    if "cell" not in tables and cell is None:
        raise Cp2kFormatError(
            f"{prefix}-1.cell: no such file; pass cell= (3×3, Å) for a fixed-cell run"
        )
    frames = []
    for step in steps:
        time_fs, energy_ha, symbols, xyz = positions[step]
        info = {"source": source, "step": step, "time_fs": time_fs}
        if "cell" in tables:
            box = tables["cell"][1][step][2:11].reshape(3, 3)
            source_of_box = f"{tables['cell'][0]}: step {step}"
        else:
            box = np.asarray(cell, dtype=float).reshape(3, 3)
            source_of_box = f"{pos_path}: the cell= argument"
        if not abs(np.linalg.det(box)) > 1e-6:
            raise Cp2kFormatError(f"{source_of_box}: degenerate cell {box.tolist()}")
        atoms = Atoms(symbols=symbols, positions=xyz, cell=box, pbc=True)
        force_values = None
        if forces is not None:
            _, _, frc_symbols, frc = forces[step]
            if frc_symbols != symbols:
                raise Cp2kFormatError(f"{frc_path}: step {step}: species differ from {pos_path}")
            force_values = frc * units.Hartree / units.Bohr
        if "ener" in tables:
            ener_path, ener = tables["ener"]
            if abs(ener[step][4] - energy_ha) > 1e-6 * max(1.0, abs(energy_ha)):
                raise Cp2kFormatError(
                    f"{ener_path}: step {step}: potential energy {ener[step][4]} Ha differs from "
                    f"E = {energy_ha} Ha in {pos_path}"
                )
            info["temperature_K"] = float(ener[step][3])
        stress = None
        if "stress" in tables:
            stress = -tables["stress"][1][step][2:11].reshape(3, 3) * units.bar
        atoms.wrap()
        frames.append(
            with_labels(atoms, energy=energy_ha * units.Hartree, forces=force_values,
                        stress=stress, info=info)
        )
    return frames


def read_cp2k(prefix, source=None, cell=None):
    """Read a CP2K MD run (or several) into labelled ASE frames, one per MD step.

    Parameters
    ----------
    prefix : str, path-like, or sequence of them
        Path without the CP2K suffixes, e.g. ``run/ZIF4-1500K`` for ``run/ZIF4-1500K-pos-1.xyz``,
        ``-frc-1.xyz``, ``-1.ener``, ``-1.cell``, ``-1.stress`` (only the positions are required).
        Several prefixes (e.g. runs at several temperatures or volumes) are read in turn.
    source : str, optional
        Tag stored in ``atoms.info["source"]``; default the file name part of each prefix.
    cell : array_like, shape (3, 3), optional
        Cell (Å) for a fixed-cell run that wrote no ``.cell`` file.

    Returns
    -------
    list of ase.Atoms
        Sorted by step, duplicates of restarted runs removed (the later occurrence is kept).
        Energy (eV, from ``E`` in the positions file), forces (eV/Å), stress (eV/Å³, ASE sign)
        are single-point results; ``info`` holds ``source``, ``step``, ``time_fs`` and
        ``temperature_K`` (when the ``.ener`` file exists).

    Raises
    ------
    Cp2kFormatError
        Missing positions file, truncated or malformed file, or sibling files whose steps,
        species or energies disagree; the message names the file and the step.
    """
    if isinstance(prefix, (str, Path)):
        prefixes = [prefix]
    else:
        prefixes = list(prefix)
    frames = []
    for p in prefixes:
        frames.extend(_read_one(p, source or Path(p).name, cell))
    return frames
