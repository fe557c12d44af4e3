"""The ASE calculator every supported model format runs in."""
import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from ..errors import ModelError, StructureError, UnknownSpeciesError
from ..neighbors import VerletList
from .formats import LEGACY_FORMAT


def torch_dtype(dtype):
    """The torch dtype named ``"float32"``/``"float64"`` (or given as a torch.dtype)."""
    import torch

    names = {"float32": torch.float32, "float64": torch.float64}
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).replace("torch.", "")
    if dtype not in names:
        raise ModelError(f"unsupported dtype {dtype!r}: use 'float32' or 'float64'")
    return names[dtype]


class DeployedModelCalculator(Calculator):
    """ASE calculator around a deployed NequIP or Allegro model (any supported format).

    Use :func:`load_potential` to build one. Each call checks the structure, builds the full
    periodic neighbour list at ``metadata.r_max`` (both directions, integer image shifts; any
    triclinic cell, also cells smaller than ``2 r_max``; pruned to the per-edge-type cut-offs
    when the model has them), runs the model once and reads ``atomic_energy``, ``forces`` and
    ``stress`` (when the model outputs it: :attr:`implemented_properties` follows
    ``metadata.outputs``). Non-finite outputs raise :class:`ModelError` naming the atoms.
    The total energy is the float64 sum of the per-atom energies (a float32
    ``total_energy`` of ~ −6·10⁴ eV is only good to a few meV).

    Parameters
    ----------
    module : torch.nn.Module or torch.jit.ScriptModule
        The loaded model.
    metadata : ModelMetadata
        Its metadata.
    device : str
        Torch device the module lives on.
    dtype : str or torch.dtype, optional
        Precision to run in; ``None`` keeps the model's own. Only legacy models can be cast.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, module, metadata, device="cpu", dtype=None, **kwargs):
        import torch

        super().__init__(**kwargs)
        self.metadata = metadata
        # per instance: what this model really outputs (a model without stress output lists none)
        self.implemented_properties = ["energy", "free_energy", "energies"] + list(metadata.outputs)
        self.device = torch.device(device)
        self.dtype = torch_dtype(dtype or metadata.dtype)
        if metadata.format == LEGACY_FORMAT:
            self.model = module.to(device=self.device, dtype=self.dtype)
            self.input_dtype = self.dtype
        else:
            if self.dtype != torch_dtype(metadata.dtype):
                raise ModelError(
                    f"{metadata.path.name}: a {metadata.format} model runs in its own "
                    f"{metadata.dtype}; retrain or recompile it to use {dtype}"
                )
            self.model = module
            self.input_dtype = torch.float64  # nequip ≥ 0.7 takes float64 positions and cell
        self.model.eval()
        self._type_of = {symbol: k for k, symbol in enumerate(metadata.type_names)}
        self._pair_cutoff = (
            None if metadata.per_edge_type_cutoff is None
            else np.asarray(metadata.per_edge_type_cutoff, dtype=np.float64)
        )
        self._neighbors = VerletList(metadata.r_max)  # reused between MD steps
        self._types = None  # (atomic numbers, model types) of the last structure

    @property
    def r_max(self):
        """Cut-off radius of the model in Å."""
        return self.metadata.r_max

    def atom_types(self, atoms):
        """Model type index of every atom; raise if an element is unknown to the model.

        Kept for the next call while ``atoms.numbers`` stay the same.
        """
        if self._types is None or not np.array_equal(self._types[0], atoms.numbers):
            self._types = (atoms.numbers.copy(), self._lookup_types(atoms))
        return self._types[1].copy()

    def _lookup_types(self, atoms):
        symbols = atoms.get_chemical_symbols()
        try:
            return np.fromiter((self._type_of[s] for s in symbols), dtype=np.int64, count=len(symbols))
        except KeyError:
            unknown = sorted(set(symbols) - set(self._type_of))
            raise UnknownSpeciesError(
                f"element(s) {', '.join(unknown)} not known to the model {self.metadata.path.name} "
                f"(type_names: {' '.join(self.metadata.type_names)})"
            ) from None

    def graph(self, atoms):
        """Model type of every atom and the periodic graph of ``atoms``.

        Returns
        -------
        types : numpy.ndarray of int64, shape (N,)
        edge_index : numpy.ndarray of int64, shape (2, E)
            Centre ``i`` and neighbour ``j`` of every directed edge.
        shifts : numpy.ndarray, shape (E, 3)
            Integer image shifts ``S`` (edge vector ``pos[j] − pos[i] + S @ cell``).

        Raises
        ------
        StructureError
            Not periodic in all three directions, or zero-volume cell.
        UnknownSpeciesError
            An element the model does not know.
        """
        if not np.all(atoms.pbc):
            raise StructureError(
                "the deployed model needs a structure periodic in all three directions "
                f"(pbc={atoms.pbc.tolist()})"
            )
        if abs(atoms.cell.volume) < 1e-6:
            raise StructureError("the structure's cell has zero volume")
        types = self.atom_types(atoms)
        if self._pair_cutoff is None:
            i, j, shifts = self._neighbors.compute(atoms, "ijS")
        else:
            i, j, shifts, d = self._neighbors.compute(atoms, "ijSd")
            keep = d < self._pair_cutoff[types[i], types[j]]
            i, j, shifts = i[keep], j[keep], shifts[keep]
        return types, np.stack((i, j)).astype(np.int64, copy=False), shifts

    def build_inputs(self, atoms):
        """Model input dictionary (tensors on the model's device and input dtype) for ``atoms``."""
        import torch

        types, edge_index, shifts = self.graph(atoms)
        as_float = dict(dtype=self.input_dtype, device=self.device)
        as_int = dict(dtype=torch.long, device=self.device)
        return {
            "pos": torch.as_tensor(atoms.positions, **as_float),
            "cell": torch.as_tensor(atoms.cell[:], **as_float),
            "atom_types": torch.as_tensor(types, **as_int),
            "edge_index": torch.as_tensor(edge_index, **as_int),
            "edge_cell_shift": torch.as_tensor(shifts, **as_float),
        }

    def evaluate(self, inputs):
        """Run the model on an input dictionary; wrap failures in :class:`ModelError`."""
        try:
            return self.model(inputs)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise ModelError(
                f"model {self.metadata.path.name} failed on {inputs['pos'].shape[0]} atoms "
                f"({first[-1] if first else type(exc).__name__})"
            ) from exc

    def check_state(self, atoms, tol=1e-15):
        """What changed in ``atoms`` since the last calculation: the answer of ASE's
        ``check_state`` (positions and cell equal within ``tol`` Å), at a fraction of its cost
        (an MD step asks several times)."""
        if self.atoms is None:
            return super().check_state(atoms, tol)
        changes = []
        for name in all_changes:
            if name in self.ignored_changes:
                continue
            if name in ("cell", "pbc"):
                old, new = np.asarray(getattr(self.atoms, name)), np.asarray(getattr(atoms, name))
            else:
                old, new = self.atoms.arrays.get(name), atoms.arrays.get(name)
                if old is None and new is None:
                    continue
            if old is None or new is None or _differs(old, new, tol):
                changes.append(name)
        return changes

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        out = self.evaluate(self.build_inputs(self.atoms))
        energies = out["atomic_energy"].detach().reshape(-1).cpu().numpy().astype(np.float64)
        forces = out["forces"].detach().cpu().numpy().astype(np.float64)
        self._check_finite("per-atom energy", energies)
        self._check_finite("force", forces)
        energy = float(energies.sum())
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": energies,
            "forces": forces,
        }
        if "stress" in self.implemented_properties and "stress" in out:
            s = out["stress"].detach().reshape(3, 3).cpu().numpy().astype(np.float64)
            if not np.all(np.isfinite(s)):
                raise ModelError(f"model {self.metadata.path.name} returned a non-finite stress")
            self.results["stress"] = np.array(
                [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]]
            )

    def _check_finite(self, what, values):
        """Raise ModelError naming the atoms whose ``values`` are NaN or infinite."""
        if np.isfinite(values).all():
            return
        index = np.flatnonzero(~np.isfinite(values.reshape(len(values), -1)).all(axis=1))
        symbols = self.atoms.get_chemical_symbols()
        named = ", ".join(f"{i} ({symbols[i]})" for i in index[:10])
        more = f" and {len(index) - 10} more" if len(index) > 10 else ""
        raise ModelError(
            f"model {self.metadata.path.name} returned a non-finite {what} on "
            f"{len(index)} atom(s): {named}{more}"
        )


def _differs(old, new, tol):
    """Whether two arrays differ as ASE's ``compare_atoms`` judges it (``np.allclose`` with
    ``atol=tol``, ``rtol=0``; arrays of other shapes differ)."""
    if old.shape != new.shape:
        return True
    if np.array_equal(old, new):
        return False
    return not (old.dtype.kind == "f" and np.all(np.abs(old - new) <= tol))
