"""The ASE calculator every supported model format runs in."""
import math
import time

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from ..errors import ModelError
from .formats import LEGACY_FORMAT
from .inputs import ModelInputs, same_bytes

#: flat indices of the Voigt components xx, yy, zz, yz, xz, xy in a 3 x 3 tensor
_VOIGT = np.array([0, 4, 8, 5, 2, 1])


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

    Between MD steps the neighbour list and the input tensors are updated rather than built
    anew (:class:`~aseml_zif.calculator.inputs.ModelInputs`), with the same results. As with
    any ASE calculator, :attr:`atoms` is a copy of the structure of the last calculation; the
    next calculation refills that copy in place when it can (take ``calc.atoms.copy()`` to keep
    one).

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

    Attributes
    ----------
    model_calls : int
        Model evaluations so far (:meth:`evaluate`; one per calculation, whichever properties
        are asked for).
    model_time_s : float
        Their wall time in s: the forward pass with forces and stress, and freeing its autograd
        graph; not the neighbour list, the input tensors or the checks of the outputs.
        :func:`aseml_zif.md.run` reports it next to the time of its steps
        (:mod:`aseml_zif.md.timing`).
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
        # the NumPy view of a detached output tensor (on the CPU its own memory, no copy)
        self._as_numpy = torch.Tensor.numpy if self.device.type == "cpu" else _cpu_numpy
        self.inputs = ModelInputs(metadata, self.device, self.input_dtype)
        self._spare = None  # the Atoms copy of the last calculation, refilled by the next one
        self._validated = None  # that copy once the calculation on it succeeded
        self._checked = None  # the results dictionary of that calculation (finite, checked)
        self.model_calls = 0
        self.model_time_s = 0.0

    @property
    def r_max(self):
        """Cut-off radius of the model in Å."""
        return self.metadata.r_max

    def atom_types(self, atoms):
        """Model type index of every atom; raise if an element is unknown to the model."""
        return self.inputs.atom_types(atoms)

    def build_inputs(self, atoms):
        """Model input dictionary (tensors on the model's device and input dtype) for ``atoms``
        (see :class:`~aseml_zif.calculator.inputs.ModelInputs`)."""
        return self.inputs(atoms)

    def evaluate(self, inputs):
        """Run the model on an input dictionary; wrap failures in :class:`ModelError`.

        The outputs are returned detached, their autograd graph freed within the call, which
        is counted in :attr:`model_calls` and :attr:`model_time_s` (a failed call is not).
        """
        import torch

        start = time.perf_counter()
        try:
            out = self.model(inputs)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()
            raise ModelError(
                f"model {self.metadata.path.name} failed on {inputs['pos'].shape[0]} atoms "
                f"({first[-1] if first else type(exc).__name__})"
            ) from exc
        out = {k: v.detach() if isinstance(v, torch.Tensor) and v.requires_grad else v
               for k, v in out.items()}
        self.model_time_s += time.perf_counter() - start
        self.model_calls += 1
        return out

    def check_state(self, atoms, tol=1e-15):
        """What changed in ``atoms`` since the last calculation: the answer of ASE's
        ``check_state`` (positions and cell equal within ``tol`` Å), at a fraction of its cost
        (an MD step asks several times)."""
        last = self.atoms
        if last is None:
            return super().check_state(atoms, tol)
        # positions and cell of the last successful calculation were finite (no NaN)
        validated = last is self._validated
        changes = []
        for name in all_changes:
            if name in self.ignored_changes:
                continue
            if name == "cell":
                old, new = last.cell.array, atoms.cell.array
            elif name == "pbc":
                old, new = last.pbc, atoms.pbc
            else:
                old, new = last.arrays.get(name), atoms.arrays.get(name)
                if old is None and new is None:
                    continue
            finite = validated and name in ("positions", "cell")
            if old is None or new is None or _differs(old, new, tol, finite):
                changes.append(name)
        return changes

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        """Run the model on ``atoms`` (default: the atoms of the last calculation).

        As ASE's ``Calculator.calculate``, it keeps a copy of ``atoms`` as :attr:`atoms`
        (the copy of the previous calculation is refilled when it has the same arrays) but
        creates no directory: this calculator writes no files.
        """
        self._validated = None
        if atoms is not None:
            self._remember(atoms)
        out = self.evaluate(self.build_inputs(self.atoms))
        # detached by evaluate; astype copies
        as_numpy = self._as_numpy
        energies = as_numpy(out["atomic_energy"]).astype(np.float64).reshape(-1)
        forces = as_numpy(out["forces"]).astype(np.float64)
        energy = float(np.add.reduce(energies))  # energies.sum() without its Python wrapper
        # a sum is not finite when a value is NaN or infinite (or the sum overflows)
        if not math.isfinite(energy):
            self._check_finite("per-atom energy", energies)
        if not math.isfinite(np.add.reduce(forces, axis=None)):
            self._check_finite("force", forces)
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": energies,
            "forces": forces,
        }
        if "stress" in self.implemented_properties and "stress" in out:
            s = as_numpy(out["stress"])  # 3 x 3 (or 1 x 3 x 3), the model's dtype
            if not math.isfinite(np.add.reduce(s, axis=None)) and not np.isfinite(s).all():
                raise ModelError(f"model {self.metadata.path.name} returned a non-finite stress")
            # a copy of the Voigt components of the flat tensor, in float64
            self.results["stress"] = s.take(_VOIGT).astype(np.float64, copy=False)
        self._validated, self._checked = self.atoms, self.results

    def holds_checked_state(self, atoms):
        """Whether ``atoms`` is, bit for bit, the state of the last calculation, which succeeded,
        and :attr:`results` are still its own.

        Then the positions and cell (Å) of ``atoms`` and every result are finite: the
        calculation checked them (the energy is tested here: finite per-atom energies may sum
        to an overflow). Proven from the bytes of positions and cell and the identity of the
        results dictionary (ASE hands results out as copies); any doubt answers False.
        """
        last = self._validated
        return (last is not None and last is self.atoms and self.results is self._checked
                and math.isfinite(self.results["energy"])
                and same_bytes(last.positions, atoms.positions)
                and same_bytes(last.cell.array, atoms.cell.array))

    def _remember(self, atoms):
        """Make :attr:`atoms` a copy of ``atoms``, as ``atoms.copy()`` makes it.

        The copy of the previous calculation is refilled instead when both have the same arrays
        (names, shapes and dtypes) and no constraints, as between MD steps (~3x faster).
        """
        spare = self._spare
        fresh = (spare is None or type(spare) is not type(atoms) or spare.constraints
                 or atoms.constraints or spare.arrays.keys() != atoms.arrays.keys())
        if not fresh:
            arrays = spare.arrays
            for name, new in atoms.arrays.items():
                old = arrays[name]
                if new.shape != old.shape or new.dtype != old.dtype:
                    fresh = True
                    break
                np.copyto(old, new)
        if fresh:
            spare = atoms.copy()
        else:
            np.copyto(spare.cell.array, atoms.cell.array)
            np.copyto(spare.pbc, atoms.pbc)
            spare.info = dict(atoms.info)
            spare.set_celldisp(atoms.get_celldisp())
        self.atoms = self._spare = spare

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


def _cpu_numpy(tensor):
    """A copy of ``tensor`` on the CPU, as a NumPy array."""
    return tensor.cpu().numpy()


def _differs(old, new, tol, finite=False):
    """Whether two arrays differ as ASE's ``compare_atoms`` judges it (``np.allclose`` with
    ``atol=tol``, ``rtol=0``; arrays of other shapes differ).

    The two answers of an MD step come without an element-wise comparison: the same bytes are
    equal arrays unless they hold a NaN (not equal to itself; ``finite``: ``old`` is known to
    hold none, else only integer and boolean arrays are compared so), and a first element
    further apart than ``tol`` is a move.
    """
    if old.shape != new.shape:
        return True
    floats = old.dtype.kind == "f"
    if (finite or not floats) and old.dtype == new.dtype and old.tobytes() == new.tobytes():
        return False
    if (floats and new.dtype.kind == "f" and old.size
            and not abs(float(old.flat[0]) - float(new.flat[0])) <= tol):
        return True
    if (old == new).all():
        return False
    return not (floats and np.all(np.abs(old - new) <= tol))
