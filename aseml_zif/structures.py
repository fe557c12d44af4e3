"""Reference ZIF structures built by the package itself.

``zif4_crystal`` applies the symmetry operations of space group Pbca (No. 61) to the
published asymmetric unit of ZIF-4 (Lewis et al., CrystEngComm 11, 2272 (2009)), stored in
``data/zif4_asymmetric_unit.json``: 34 sites → 272 atoms, C96H96N64Zn16.
"""
import json

import numpy as np
from ase import Atoms
from ase.spacegroup import crystal

from ._resources import resource_path
from .errors import StructureError

__all__ = ["zif4_crystal", "supercell"]


def zif4_crystal():
    """Return the orthorhombic ZIF-4 crystal, Zn(Im)2, as a periodic ASE ``Atoms``.

    Returns
    -------
    ase.Atoms
        272 atoms (16 Zn, 64 N, 96 C, 96 H; 32 imidazolates), Pbca cell
        a = 15.4231, b = 15.4042, c = 18.4379 Å, positions wrapped into the cell,
        ``info["spacegroup"] = 61``.
    """
    with open(resource_path("zif4_asymmetric_unit.json")) as fh:
        unit = json.load(fh)
    symbols = [site[1] for site in unit["sites"]]
    basis = np.array([site[2:5] for site in unit["sites"]], dtype=float)
    atoms = crystal(
        symbols,
        basis=basis,
        spacegroup=unit["spacegroup"],
        cellpar=unit["cellpar"],
        symprec=1e-3,
        primitive_cell=False,
    )
    # plain Atoms: drop the spacegroup object ASE attaches, keep the number
    atoms = Atoms(atoms.numbers, positions=atoms.positions, cell=atoms.cell, pbc=True)
    atoms.info["spacegroup"] = unit["spacegroup"]
    atoms.wrap()
    return atoms


def supercell(atoms, reps):
    """Repeat a periodic structure ``reps = (na, nb, nc)`` times along its cell vectors.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic structure (all three directions).
    reps : int or sequence of 3 int
        Repetitions along a, b, c (a single int repeats isotropically).

    Returns
    -------
    ase.Atoms
        A new ``Atoms`` with ``prod(reps)`` times the atoms; ``info`` is copied.
    """
    reps = np.broadcast_to(np.asarray(reps), (3,))
    if not np.issubdtype(reps.dtype, np.integer) or np.any(reps < 1):
        raise StructureError(f"supercell repetitions must be positive integers, got {tuple(reps)}")
    if not np.all(atoms.pbc):
        raise StructureError("supercell needs a structure periodic in all three directions")
    return atoms.repeat(tuple(int(r) for r in reps))
