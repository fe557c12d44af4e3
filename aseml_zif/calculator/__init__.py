"""Deployed NequIP / Allegro models as ASE calculators.

:func:`load_potential` is the single entry point. It recognises, by file name,

* **legacy** deployed TorchScript files written by ``nequip-deploy`` of nequip ≤ 0.6 (NequIP
  or Allegro; e.g. the paper's ``nequip_l2r6stress0.pth``), which current nequip cannot load
  (:mod:`.legacy`). :func:`convert_legacy_model` turns a legacy NequIP model into a current
  nequip package with the same weights (:mod:`.convert`), and ``compile=True`` compiles it
  with AOTInductor into a cache (:mod:`.compiled`).
* **current** nequip ≥ 0.7 / allegro ≥ 0.7 files, loaded through nequip's own loaders
  (:mod:`.current`): AOTInductor ``*.nequip.pt2`` (``nequip-compile --mode aotinductor
  --target ase``), TorchScript ``*.nequip.pth`` (torch < 2.10 only), packages
  ``*.nequip.zip`` (``nequip-package``) and training checkpoints ``*.ckpt``.
* ``"demo"`` and ``"fast"``: the two models shipped in the project's ``data/`` folder (the
  small demo model; the student of the paper's model to run hot), and the names
  :func:`aseml_zif.training.fetch_model` knows.

Every format runs in the same :class:`DeployedModelCalculator` (:mod:`.deployed`): the same
structure checks (periodic, non-degenerate cell, finite positions, species known to the
model), the same periodic graph from :func:`aseml_zif.neighbors.neighbor_list` (full list,
integer image shifts, any triclinic cell, cells smaller than ``2 r_max``) and the same
outputs, since all these models take ``pos, edge_index, edge_cell_shift, cell, atom_types``
and return ``atomic_energy``, ``forces`` and (most of them) ``stress``.

Units and conventions are ASE's: energy in eV, forces in eV/Å, stress in eV/Å³ as the
6-component Voigt vector ``[xx, yy, zz, yz, xz, xy]`` with ASE's sign (positive under tension),
``stress = (1/V) ∂E/∂ε``. The models compute it themselves as the derivative of the energy with
respect to a symmetric strain of the cell and positions (nequip's ``StressForceOutput`` /
``ForceStressOutput``); :mod:`aseml_zif.testing.conformance` checks it against finite strains.
"""
from .convert import convert_legacy_model
from .deployed import DeployedModelCalculator
from .formats import (CURRENT_FORMATS, DEMO_MODEL, FAST_MODEL, LEGACY_FORMAT, SHIPPED_MODELS,
                      ModelMetadata)
from .loading import load_potential, read_model_metadata, resolve_device

__all__ = [
    "load_potential",
    "read_model_metadata",
    "convert_legacy_model",
    "ModelMetadata",
    "DeployedModelCalculator",
    "resolve_device",
    "CURRENT_FORMATS",
    "DEMO_MODEL",
    "FAST_MODEL",
    "SHIPPED_MODELS",
    "LEGACY_FORMAT",
]
