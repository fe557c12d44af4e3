"""Model inputs of a structure, rebuilt between MD steps only where the structure changed."""
import numpy as np

from ..errors import StructureError, UnknownSpeciesError
from ..verlet import VerletList


class ModelInputs:
    """The tensors ``pos, cell, atom_types, edge_index, edge_cell_shift`` of a structure.

    Checks the structure (periodic in all three directions, non-degenerate cell, finite
    positions, elements known to the model) and builds the full periodic graph at
    ``metadata.r_max`` from a :class:`~aseml_zif.verlet.VerletList` (pruned to the
    per-edge-type cut-offs when the model has them, by the list itself). What did not change
    since the last call is not built again: the model types while the atomic numbers stay, the
    cell tensor while the cell stays; the edges are taken from the candidates of the Verlet
    list (in ZIF-4 at 300 K some pair crosses the cut-off at almost every MD step), laid out in
    both directions (indices, and shifts in the input dtype) once per rebuild. The tensors are
    the same numbers as when built anew; the position and edge tensors are new at every call.

    Parameters
    ----------
    metadata : ModelMetadata
        Metadata of the model (type names, ``r_max``, per-edge-type cut-offs).
    device : torch.device
        Device of the tensors.
    dtype : torch.dtype
        Floating-point type of ``pos``, ``cell`` and ``edge_cell_shift``.
    """

    def __init__(self, metadata, device, dtype):
        import torch

        self._from_numpy = torch.from_numpy
        self.metadata = metadata
        self.device = device
        self._on_cpu = device.type == "cpu"
        self.dtype = dtype
        self._numpy_dtype = np.dtype(str(dtype).replace("torch.", ""))
        # a 1.5 Å skin: rebuilt every ~200 steps of 0.5 fs at 300 K in ZIF-4 with one cut-off
        # (1 Å: every ~40; 200 fs of the demo model), which saves more than the extra candidates
        # cost. With the
        # fast model's H pairs cut at 3 Å (r_max 5 Å), 1500 K liquid: 10 rebuilds in 600 steps
        # (44 with one cut-off for all pairs)
        self.neighbors = VerletList(metadata.r_max, skin=1.5, shell=1.5,
                                    pair_cutoffs=metadata.per_edge_type_cutoff)
        self._type_of = {symbol: k for k, symbol in enumerate(metadata.type_names)}
        self._types = None  # atomic numbers, model types and their tensor, of the last structure
        self._cell = None  # cell checked last and its tensor
        self._both = None  # candidate generation, [i, j; j, i], [S; -S] and their count

    def atom_types(self, atoms):
        """Model type index of every atom (int64); raise if an element is unknown to the model."""
        return self._types_of(atoms)[1].copy()

    def _types_of(self, atoms):
        import torch

        if self._types is None or not same_bytes(self._types[0], atoms.numbers):
            types = self._lookup_types(atoms)
            self._types = (atoms.numbers.copy(), types, torch.tensor(types, device=self.device))
        return self._types

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

    def _cell_tensor(self, atoms):
        import torch

        cell = atoms.cell.array
        if self._cell is None or not same_bytes(self._cell[0], cell):
            if abs(atoms.cell.volume) < 1e-6:
                raise StructureError("the structure's cell has zero volume")
            self._cell = (cell.copy(), torch.tensor(cell, dtype=self.dtype, device=self.device))
        return self._cell[1]

    def _edge_tensors(self, atoms, types):
        """``edge_index`` and ``edge_cell_shift``: the kept candidates ``i → j`` (shift ``S``),
        then the kept ones ``j → i`` (shift ``-S``), each in candidate order.

        Taken in one gather each from the candidates in both directions, ``[i, j; j, i]`` and
        ``[S; -S]`` in the input dtype, made once per rebuild of the Verlet list.
        """
        forward, backward = self.neighbors.edges(atoms, types)
        if self._both is None or self._both[0] != self.neighbors.generation:
            (i, j), shifts = self.neighbors.candidates
            shifts = shifts.astype(self._numpy_dtype)
            # -S as 0.0 - S: also 0.0 for 0 (not -0.0)
            self._both = (self.neighbors.generation, np.stack((np.concatenate((i, j)),
                                                               np.concatenate((j, i)))),
                          np.concatenate((shifts, np.subtract(0.0, shifts))), i.size)
        _, pairs, shifts, n = self._both
        index = np.concatenate((forward, backward + n))
        return self._tensor(pairs.take(index, axis=1)), self._tensor(shifts.take(index, axis=0))

    def _tensor(self, array):
        """A tensor on the device holding ``array`` (the array's own memory on the CPU)."""
        tensor = self._from_numpy(array)
        return tensor if self._on_cpu else tensor.to(self.device)

    def __call__(self, atoms):
        """Input dictionary of the model for ``atoms``.

        Raises
        ------
        StructureError
            Not periodic in all three directions, zero-volume cell, non-finite positions
            or cell (naming the atoms).
        UnknownSpeciesError
            An element the model does not know.
        """
        if not atoms.pbc.all():
            raise StructureError(
                "the deployed model needs a structure periodic in all three directions "
                f"(pbc={atoms.pbc.tolist()})"
            )
        cell = self._cell_tensor(atoms)
        _, types, type_tensor = self._types_of(atoms)
        edge_index, cell_shift = self._edge_tensors(atoms, types)
        return {
            "pos": self._tensor(np.array(atoms.positions, dtype=self._numpy_dtype)),
            "cell": cell,
            "atom_types": type_tensor,
            "edge_index": edge_index,
            "edge_cell_shift": cell_shift,
        }



def same_bytes(old, new):
    """Whether ``new`` holds the same numbers as ``old``, bit for bit (same shape, dtype and
    bytes: what a tensor made of it depends on)."""
    return old.shape == new.shape and old.dtype == new.dtype and old.tobytes() == new.tobytes()
