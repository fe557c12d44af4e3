"""Reading structures: CIF, LAMMPS data and extended XYZ into periodic ASE ``Atoms``."""
from pathlib import Path

import numpy as np
from ase.data import atomic_masses, chemical_symbols

from .errors import StructureError

__all__ = ["read_structure", "check_frames"]

_LAMMPS_SUFFIXES = {".lmp", ".data", ".lammps", ".lammps-data"}


def _atoms_named(atoms, indices, limit=8):
    named = ", ".join(f"{atoms.symbols[i]}{i}" for i in indices[:limit])
    return named + (f" and {len(indices) - limit} more" if len(indices) > limit else "")


def check_frames(frames, path):
    """Refuse frames read from ``path`` without atoms or with NaN or infinite numbers.

    Parameters
    ----------
    frames : list of ase.Atoms
        As read from the file.
    path : path-like
        The file, named in the messages.

    Returns
    -------
    list of ase.Atoms
        ``frames``, unchanged.

    Raises
    ------
    StructureError
        A frame without atoms, or a non-finite cell, per-atom array (positions,
        momenta, forces ...; the message names the atoms, symbol and 0-based index) or
        stored label (energy, stress ...), naming the file and the frame.
    """
    for k, atoms in enumerate(frames):
        where = f"{path}: frame {k}" if len(frames) > 1 else f"{path}"
        if len(atoms) == 0:
            raise StructureError(f"{where}: no atoms")
        if not np.isfinite(atoms.cell[:]).all():
            raise StructureError(f"{where}: non-finite cell {atoms.cell[:].tolist()}")
        for name, values in atoms.arrays.items():
            if values.dtype.kind == "f":
                bad = np.flatnonzero(~np.isfinite(values.reshape(len(atoms), -1)).all(axis=1))
                if bad.size:
                    raise StructureError(f"{where}: non-finite {name} of {_atoms_named(atoms, bad)}")
        results = atoms.calc.results if atoms.calc is not None else {}
        for name, value in results.items():
            value = np.asarray(value)
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise StructureError(f"{where}: non-finite {name}")
    return frames


def _lammps_species_from_masses(path, masses):
    """Map each LAMMPS type's mass (amu) to the element of nearest standard mass."""
    species = []
    for t, m in enumerate(masses, start=1):
        diff = np.abs(atomic_masses[1:] - m)
        z = int(np.argmin(diff)) + 1
        if diff[z - 1] > 0.1:
            raise StructureError(
                f"{path}: LAMMPS type {t} has mass {m} amu, which matches no element; "
                "pass species=[...] in type order"
            )
        species.append(chemical_symbols[z])
    return species


def _read_lammps_data(path, species):
    from ase.io.lammpsdata import read_lammps_data

    try:
        atoms = read_lammps_data(str(path), atom_style="atomic", units="metal")
    except Exception as exc:  # ASE raises assorted errors on malformed files
        raise StructureError(f"{path}: cannot read as LAMMPS data file ({exc})") from exc
    types = atoms.arrays.get("type")
    if types is None:
        types = atoms.numbers
    types = np.asarray(types)
    if types.size == 0:
        raise StructureError(f"{path}: no atoms")
    if types.min() < 1:
        raise StructureError(f"{path}: atom type {int(types.min())}; LAMMPS types start at 1")
    if species is None:
        if "masses" not in atoms.arrays:
            raise StructureError(f"{path}: no Masses section; pass species=[...] in type order")
        ntypes = int(types.max())
        masses = np.zeros(ntypes)
        for t in range(1, ntypes + 1):
            sel = types == t
            if sel.any():
                masses[t - 1] = atoms.arrays["masses"][sel][0]
        species = _lammps_species_from_masses(path, masses)
    if types.max() > len(species):
        raise StructureError(
            f"{path}: atom type {int(types.max())} present but species lists only {len(species)} elements"
        )
    atoms.set_chemical_symbols([species[t - 1] for t in types])
    for key in ("type", "masses", "mmcharges", "travel", "id"):
        if key in atoms.arrays:
            del atoms.arrays[key]
    return atoms


def _read_p1_cif(path):
    """Read a CIF whose only symmetry operation is the identity, or return None.

    ASE's general reader checks every symmetry image for duplicate sites (O(N²) in Python,
    ~1.5 s for a 272-atom cell); a P1 file needs no expansion.
    """
    from ase.io.cif import parse_cif

    blocks = [b for b in parse_cif(str(path)) if b.has_structure()]
    if len(blocks) != 1:
        return None
    block = blocks[0]
    sitesym = block._get_sitesym()
    identity = sitesym is None or [op.replace(" ", "").lower() for op in sitesym] == ["x,y,z"]
    number = block._get_spacegroup_number()
    if not identity or number not in (None, 1):
        return None
    atoms = block.get_unsymmetrized_structure()
    atoms.pbc = True
    return atoms


def read_structure(path, species=None):
    """Read one periodic structure and return it with positions wrapped into the cell.

    Parameters
    ----------
    path : str or path-like
        CIF (``.cif``), LAMMPS data (``.lmp``, ``.data``, ``.lammps``; ``atom_style atomic``,
        metal units) or extended XYZ (``.xyz``, ``.extxyz``); anything else ASE reads by suffix.
        For a multi-frame file the last frame is returned.
    species : sequence of str, optional
        LAMMPS data only: element of each atom type, in type order (e.g. ``["C", "H", "N", "Zn"]``).
        By default the elements are inferred from the ``Masses`` section.

    Returns
    -------
    ase.Atoms
        Periodic in all three directions, positions wrapped.

    Raises
    ------
    StructureError
        Missing or unreadable file, unknown masses, no atoms, non-finite numbers, or a
        structure without a 3-D periodic cell; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise StructureError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in _LAMMPS_SUFFIXES:
        atoms = _read_lammps_data(path, species)
    else:
        if species is not None:
            raise StructureError(f"{path}: species= is only used for LAMMPS data files")
        from ase.io import read

        try:
            atoms = _read_p1_cif(path) if suffix == ".cif" else None
            if atoms is None:
                atoms = read(str(path), index=-1)
        except Exception as exc:
            raise StructureError(f"{path}: cannot read structure ({exc})") from exc
    check_frames([atoms], path)
    if not np.all(atoms.pbc) or atoms.cell.rank < 3 or abs(atoms.cell.volume) < 1e-6:
        raise StructureError(f"{path}: the structure has no 3-D periodic cell")
    atoms.wrap()
    return atoms
