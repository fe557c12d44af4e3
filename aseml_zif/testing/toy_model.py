"""A toy pair potential saved in the legacy ``nequip-deploy`` file format (for fast tests).

:func:`write_toy_legacy_model` writes a TorchScript archive with the same input/output contract
and metadata keys as a nequip ≤ 0.6 deployed model (e.g. the paper's
``nequip_l2r6stress0.pth``), so that :func:`aseml_zif.load_potential` and everything built on
it can be tested in milliseconds. :func:`toy_pair_energy` evaluates the same potential in
NumPy from ASE's own neighbour list, an independent reference.

The potential is a Morse pair term with a smooth polynomial cut-off,

``φ_ab(r) = D_ab [(1 − e^{−α (r − r0)})² − 1] · (1 − (r/r_c)²)²``  for ``r < r_c``,

with ``D_ab = √(D_a D_b)``; the energy of atom ``i`` is ``½ Σ_j φ(r_ij)``. Forces are
``−∂E/∂r`` and the stress ``(1/V) ∂E/∂ε`` (ASE sign) by automatic differentiation with respect
to a symmetric strain, as nequip's ``StressForceOutput`` does.
"""
import warnings
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
from ase import Atoms
from ase.geometry import cellpar_to_cell

__all__ = ["write_toy_legacy_model", "toy_pair_energy", "toy_zif_cell", "TOY_WELL_DEPTHS"]

#: default well depth D_a (eV) of each element of the toy model
TOY_WELL_DEPTHS = {"H": 0.05, "C": 0.10, "N": 0.08, "Zn": 0.20}
_ALPHA = 1.6  # 1/Å
_R0 = 2.4  # Å


def _toy_module_class(with_stress=True):
    import torch

    class ToyPairModel(torch.nn.Module):
        def __init__(self, depths, r_max: float):
            super().__init__()
            self.register_buffer("depths", torch.as_tensor(depths, dtype=torch.float64))
            self.r_max = r_max
            self.alpha = _ALPHA
            self.r0 = _R0

        def compute(self, data: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
            """Per-atom energies, total energy, −∂E/∂r and ∂E/∂ε (strain derivative)."""
            pos = data["pos"]
            cell = data["cell"].reshape(3, 3)
            edge_index = data["edge_index"]
            types = data["atom_types"]
            strain = torch.zeros((3, 3), dtype=pos.dtype, device=pos.device).requires_grad_(True)
            sym = 0.5 * (strain + strain.transpose(0, 1))
            pos = pos.detach().requires_grad_(True)
            spos = pos + pos @ sym
            scell = cell + cell @ sym
            vec = spos[edge_index[1]] - spos[edge_index[0]] + data["edge_cell_shift"] @ scell
            r = torch.linalg.norm(vec, dim=1)
            depth = torch.sqrt(self.depths[types[edge_index[0]]] * self.depths[types[edge_index[1]]])
            morse = depth * ((1.0 - torch.exp(-self.alpha * (r - self.r0))) ** 2 - 1.0)
            cut = (1.0 - (r / self.r_max) ** 2) ** 2 * (r < self.r_max).to(r.dtype)
            atomic = torch.zeros(pos.shape[0], dtype=pos.dtype, device=pos.device)
            atomic = atomic.index_add(0, edge_index[0], 0.5 * morse * cut)
            total = atomic.sum()
            grads = torch.autograd.grad([total], [pos, strain])
            dpos = grads[0]
            dstrain = grads[1]
            assert dpos is not None and dstrain is not None
            return atomic, total, -dpos, dstrain

        def forward(self, data: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
            atomic, total, forces, dstrain = self.compute(data)
            volume = torch.linalg.det(data["cell"].reshape(3, 3))
            return {
                "atomic_energy": atomic.unsqueeze(-1),
                "total_energy": total.reshape(1, 1),
                "forces": forces,
                "stress": (dstrain / volume).unsqueeze(0),
                "virial": -dstrain.unsqueeze(0),
            }

    class ToyForceModel(ToyPairModel):
        """The same potential without stress output (like a legacy ``ForceOutput`` model)."""

        def forward(self, data: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
            atomic, total, forces, _ = self.compute(data)
            return {
                "atomic_energy": atomic.unsqueeze(-1),
                "total_energy": total.reshape(1, 1),
                "forces": forces,
            }

    return ToyPairModel if with_stress else ToyForceModel


def write_toy_legacy_model(path, type_names=("H", "C", "N", "Zn"), r_max=4.0, dtype="float64",
                           well_depths=None, stress=True, config="model_builders: [ToyPairModel]"):
    """Write the toy pair potential as a legacy (nequip 0.5.6-style) deployed TorchScript file.

    Parameters
    ----------
    path : str or path-like
        Output file (e.g. ``toy.pth``).
    type_names : sequence of str
        Elements, in model type order.
    r_max : float
        Cut-off radius in Å.
    dtype : {"float64", "float32"}
        Stored as the model's ``model_dtype``.
    well_depths : dict of str to float, optional
        ``D_a`` in eV per element (default :data:`TOY_WELL_DEPTHS`).
    stress : bool
        Output the stress (as ``StressForceOutput`` models do); ``False`` writes a model with
        energies and forces only.
    config : str
        Training configuration (YAML text) stored with the model, e.g. a doctored copy of a
        real model's to test what reads it.

    Returns
    -------
    pathlib.Path
    """
    import torch

    well_depths = dict(TOY_WELL_DEPTHS, **(well_depths or {}))
    depths = [well_depths[name] for name in type_names]
    extra = {
        "nequip_version": "0.5.6",
        "r_max": str(float(r_max)),
        "n_species": str(len(type_names)),
        "type_names": " ".join(type_names),
        "model_dtype": dtype,
        "config": config,
    }
    path = Path(path)
    with warnings.catch_warnings():  # torch ≥ 2.10 deprecates TorchScript; legacy files are TorchScript
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
        module = torch.jit.script(_toy_module_class(stress)(depths, float(r_max)))
        torch.jit.save(module.to(getattr(torch, dtype)), str(path), _extra_files=extra)
    return path


def toy_pair_energy(atoms, r_max=4.0, well_depths=None):
    """Total energy (eV) of the toy potential from :func:`ase.neighborlist.neighbor_list`.

    An implementation independent of :mod:`aseml_zif.neighbors` and of torch, for checking
    the calculator's periodic graph (images, triclinic and small cells).
    """
    from ase.neighborlist import neighbor_list

    well_depths = dict(TOY_WELL_DEPTHS, **(well_depths or {}))
    i, j, r = neighbor_list("ijd", atoms, r_max)
    d = np.array([well_depths[s] for s in atoms.get_chemical_symbols()])
    morse = np.sqrt(d[i] * d[j]) * ((1 - np.exp(-_ALPHA * (r - _R0))) ** 2 - 1)
    return float(np.sum(0.5 * morse * (1 - (r / r_max) ** 2) ** 2))


def toy_zif_cell():
    """8-atom triclinic cell of H, C, N, Zn, every edge shorter than the paper model's r_max (6 Å).

    Atoms are placed at random with a minimum separation of 1.5 Å: not a physical structure,
    but every law of the conformance checks holds for any structure.
    """
    rng = np.random.default_rng(7)
    cell = cellpar_to_cell([5.6, 6.1, 5.9, 82.0, 97.0, 104.0])
    symbols = ["Zn", "N", "N", "C", "C", "C", "H", "H"]
    atoms = Atoms(pbc=True, cell=cell)
    while len(atoms) < len(symbols):
        candidate = Atoms(symbols[len(atoms)], cell=cell, pbc=True,
                          scaled_positions=[rng.uniform(size=3)])
        trial = atoms + candidate
        if len(trial) == 1 or min(trial.get_distances(-1, range(len(trial) - 1), mic=True)) > 1.5:
            atoms = trial
    return atoms
