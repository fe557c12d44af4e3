"""Pore volume (accessible + non-accessible) with Zeo++ through pyzeo.

Castel et al., Digital Discovery 3, 355 (2024) report the pore volume of ZIF-4 crystal and
glasses for a helium-sized probe (radius 1.2 Å): ≈ 54 cm³/kg (crystal) and 68 cm³/kg (glasses).
Zeo++ (Willems et al., Microporous Mesoporous Mater. 149, 134 (2012)) estimates it by Monte
Carlo: ``samples`` points per unit cell are tested against the atoms (Zeo++'s default radii
table); a point far enough from every atom for the probe is void, *accessible* (AV) when the
probe reaches it from a channel of radius ``channel_radius``, otherwise *non-accessible* (NAV).
The defaults here are those of the command ``network -ha -vol 1.2 1.2 50000``: the high-accuracy
decomposition (``-ha``; plain Zeo++ runs without it and reads ~2 % less on ZIF-4), channel and
probe radius 1.2 Å, 50 000 samples.
"""
import os
import re
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .._deprecation import RenamedKeys
from ..errors import PoreVolumeError, StructureError

__all__ = ["pore_volume", "RENAMED_KEYS"]

_FIELDS = {
    "cell_volume": r"Unitcell_volume:\s*(\S+)",
    "density": r"Density:\s*(\S+)",
    "accessible_A3": r"\bAV_A\^3:\s*(\S+)",
    "accessible_cm3_g": r"\bAV_cm\^3/g:\s*(\S+)",
    "non_accessible_A3": r"NAV_A\^3:\s*(\S+)",
    "non_accessible_cm3_g": r"NAV_cm\^3/g:\s*(\S+)",
}

#: result keys before they carried their units (old -> new), still readable with a warning
RENAMED_KEYS = {
    "total": "total_cm3_per_kg",
    "accessible": "accessible_cm3_per_kg",
    "non_accessible": "non_accessible_cm3_per_kg",
    "cell_volume": "cell_volume_A3",
    "density": "density_g_cm3",
}


@contextmanager
def _silenced_stdout():
    """Send file descriptor 1 to /dev/null: Zeo++ prints thousands of lines from C++."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _zeo_volume(cif_path, channel_radius, probe_radius, samples, high_accuracy):
    try:
        from pyzeo.area_volume import volume
        from pyzeo.netstorage import AtomNetwork
    except ImportError as exc:
        raise PoreVolumeError(f"pyzeo (Zeo++) is not installed: pip install pyzeo ({exc})") from exc
    with _silenced_stdout():
        network = AtomNetwork.read_from_CIF(str(cif_path))
        result = volume(network, channel_radius, probe_radius, int(samples),
                        high_accuracy=high_accuracy)
    text = (result[0] if isinstance(result, tuple) else result).decode()
    values = {}
    for key, pattern in _FIELDS.items():
        match = re.search(pattern, text)
        if match is None:
            raise PoreVolumeError(f"unexpected Zeo++ output (no {key}): {text[:200]!r}")
        values[key] = float(match.group(1))
    return values


def pore_volume(atoms, probe_radius=1.2, channel_radius=None, samples=50000,
                high_accuracy=True, seed=None):
    """Accessible, non-accessible and total pore volume of a periodic structure.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic structure (3-D cell).
    probe_radius : float
        Radius of the probe sampling the void, Å (helium: 1.2 Å, as in the paper).
    channel_radius : float, optional
        Radius of the probe that decides accessibility, Å; defaults to ``probe_radius``.
    samples : int
        Monte Carlo samples per unit cell (Zeo++ ``-vol`` third argument).
    high_accuracy : bool
        Zeo++'s high-accuracy Voronoi decomposition (``-ha``).
    seed : int, optional
        Zeo++ samples with a fixed random sequence; a seed rigidly translates the structure by
        a random vector first, which gives an independent Monte Carlo estimate (repeat with
        several seeds for an error bar). ``None`` reproduces plain Zeo++.

    Returns
    -------
    dict
        ``total_cm3_per_kg``, ``accessible_cm3_per_kg``, ``non_accessible_cm3_per_kg``;
        ``accessible_A3``, ``non_accessible_A3`` (Å³ per cell), ``cell_volume_A3``,
        ``density_g_cm3``, ``void_fraction`` (total void volume / cell volume), and the
        settings ``probe_radius``, ``channel_radius`` (Å), ``samples``. The keys of
        :data:`RENAMED_KEYS` (``total``, ``accessible``, ... without units) still read, with a
        :class:`DeprecationWarning`.

    Raises
    ------
    StructureError
        Non-periodic or zero-volume structure, or a non-positive radius or sample count.
    PoreVolumeError
        pyzeo missing or failing.
    """
    from ase import Atoms
    from ase.io import write

    if not isinstance(atoms, Atoms):
        raise StructureError(f"pore_volume needs an ase.Atoms, got {type(atoms).__name__}")
    if not np.all(atoms.pbc) or atoms.cell.rank < 3:
        raise StructureError("pore_volume needs a structure periodic in three directions")
    channel_radius = probe_radius if channel_radius is None else channel_radius
    if probe_radius <= 0 or channel_radius <= 0 or samples < 1:
        raise StructureError(
            f"probe/channel radius and samples must be positive (got {probe_radius}, "
            f"{channel_radius}, {samples})")
    atoms = atoms.copy()
    if seed is not None:
        shift = np.random.default_rng(seed).random(3) @ atoms.cell[:]
        atoms.translate(shift)
    atoms.wrap()
    with tempfile.TemporaryDirectory(prefix="aseml_zif_zeo_") as tmp:
        cif = Path(tmp) / "structure.cif"
        write(cif, atoms, format="cif")
        values = _zeo_volume(cif, channel_radius, probe_radius, samples, high_accuracy)
    accessible = 1000.0 * values["accessible_cm3_g"]
    non_accessible = 1000.0 * values["non_accessible_cm3_g"]
    return RenamedKeys({
        "total_cm3_per_kg": accessible + non_accessible,
        "accessible_cm3_per_kg": accessible,
        "non_accessible_cm3_per_kg": non_accessible,
        "accessible_A3": values["accessible_A3"],
        "non_accessible_A3": values["non_accessible_A3"],
        "cell_volume_A3": values["cell_volume"],
        "density_g_cm3": values["density"],
        "void_fraction": (values["accessible_A3"] + values["non_accessible_A3"])
        / values["cell_volume"],
        "probe_radius": float(probe_radius),
        "channel_radius": float(channel_radius),
        "samples": int(samples),
    }, RENAMED_KEYS, "pore_volume")
