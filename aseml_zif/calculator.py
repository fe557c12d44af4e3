"""Deployed NequIP / Allegro models as ASE calculators.

:func:`load_potential` is the single entry point. It recognises

* **legacy** deployed TorchScript files written by ``nequip-deploy`` of nequip ≤ 0.6 (NequIP
  or Allegro; e.g. the paper's ``nequip_l2r6stress0.pth``), which current nequip cannot load.
  They are run by :class:`DeployedModelCalculator` here: the metadata stored next to the
  TorchScript archive gives ``r_max``, ``type_names`` and the dtype; the periodic graph is built
  with :func:`aseml_zif.neighbors.neighbor_list`.
* ``"demo"``: the small model shipped in the project's ``data/`` folder.

Units and conventions are ASE's: energy in eV, forces in eV/Å, stress in eV/Å³ as the
6-component Voigt vector ``[xx, yy, zz, yz, xz, xy]`` with ASE's sign (positive under tension),
``stress = (1/V) ∂E/∂ε``. The legacy models compute it themselves as the derivative of the
energy with respect to a symmetric strain of the cell and positions (nequip's
``StressForceOutput``); the package's conformance tests check it against finite strains.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from .errors import ModelError, StructureError, UnknownSpeciesError
from .neighbors import neighbor_list

__all__ = [
    "load_potential",
    "read_model_metadata",
    "ModelMetadata",
    "DeployedModelCalculator",
    "resolve_device",
]

#: file of the shipped demo model, relative to the project's ``data/`` folder
DEMO_MODEL = "demo_model/zif4_demo.nequip.zip"

_LEGACY_KEYS = (
    "nequip_version",
    "r_max",
    "type_names",
    "n_species",
    "model_dtype",
    "default_dtype",
    "allow_tf32",
    "_jit_fusion_strategy",
    "config",
)


@dataclass(frozen=True)
class ModelMetadata:
    """What a deployed model file says about itself.

    Attributes
    ----------
    path : pathlib.Path
        The model file.
    format : str
        ``"legacy-torchscript"`` (nequip ≤ 0.6 ``nequip-deploy`` output).
    architecture : str
        ``"nequip"`` or ``"allegro"``.
    nequip_version : str
        Version of nequip that wrote the file.
    r_max : float
        Cut-off radius in Å.
    type_names : tuple of str
        Chemical symbol of each model atom type, in type-index order.
    dtype : str
        ``"float32"`` or ``"float64"``: the dtype of the model's floating-point inputs.
    """

    path: Path
    format: str
    architecture: str
    nequip_version: str
    r_max: float
    type_names: tuple
    dtype: str


def _version_tuple(text):
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _load_legacy(path, device):
    """Load a legacy TorchScript archive and its metadata; raise ModelError otherwise."""
    import torch

    extra = {key: "" for key in _LEGACY_KEYS}
    try:
        module = torch.jit.load(str(path), _extra_files=extra, map_location=device)
    except Exception as exc:  # not a TorchScript archive, corrupt, or truncated
        raise ModelError(
            f"{path}: not a loadable deployed model ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        ) from exc
    meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in extra.items()}
    version = meta["nequip_version"]
    if not version:
        raise ModelError(
            f"{path}: TorchScript file without nequip metadata (no 'nequip_version'); "
            "only models written by nequip-deploy (nequip ≤ 0.6) or nequip ≥ 0.7 files are supported"
        )
    if _version_tuple(version) >= (0, 7, 0):
        raise ModelError(f"{path}: nequip {version} file is not a legacy deployed model")
    type_names = tuple(meta["type_names"].split())
    if not type_names or not meta["r_max"]:
        raise ModelError(f"{path}: metadata lacks type_names or r_max")
    dtype = meta["model_dtype"] or meta["default_dtype"] or "float32"
    architecture = "allegro" if "allegro" in meta["config"].lower() else "nequip"
    metadata = ModelMetadata(
        path=Path(path),
        format="legacy-torchscript",
        architecture=architecture,
        nequip_version=version,
        r_max=float(meta["r_max"]),
        type_names=type_names,
        dtype=dtype,
    )
    _apply_jit_settings(meta)
    return module, metadata


def _apply_jit_settings(meta):
    """Apply the TorchScript executor settings nequip-deploy recorded (as nequip's loader did).

    The fusion strategy supersedes the deprecated ``_jit_bailout_depth`` of older files.
    """
    import torch

    if meta.get("_jit_fusion_strategy"):
        strategy = []
        for item in meta["_jit_fusion_strategy"].split(";"):
            kind, depth = item.split(",")
            strategy.append((kind, int(depth)))
        torch.jit.set_fusion_strategy(strategy)
    if meta.get("allow_tf32") and torch.cuda.is_available():
        allow = bool(int(meta["allow_tf32"]))
        torch.backends.cuda.matmul.allow_tf32 = allow
        torch.backends.cudnn.allow_tf32 = allow


def read_model_metadata(path):
    """Return the :class:`ModelMetadata` of a deployed model file without keeping the model.

    Parameters
    ----------
    path : str or path-like
        Model file, or ``"demo"`` for the shipped demo model.
    """
    path = _resolve_path(path)
    return _load_legacy(path, "cpu")[1]


def resolve_device(device="auto"):
    """Return the torch device name to use: ``"auto"`` picks CUDA when present, else CPU."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but CUDA is not available")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ModelError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'")
    return device


def _resolve_path(path):
    if str(path) == "demo":
        from ._resources import resource_path

        return resource_path(DEMO_MODEL)
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    return path


def _torch_dtype(dtype):
    import torch

    names = {"float32": torch.float32, "float64": torch.float64}
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).replace("torch.", "")
    if dtype not in names:
        raise ModelError(f"unsupported dtype {dtype!r}: use 'float32' or 'float64'")
    return names[dtype]


def load_potential(path, device="auto", dtype=None):
    """Load a deployed NequIP/Allegro model as an ASE calculator.

    Parameters
    ----------
    path : str or path-like
        Deployed model file (legacy ``nequip-deploy`` TorchScript ``.pth``), or ``"demo"``
        for the small model shipped with aseml_zif.
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:N]"``.
    dtype : {None, "float32", "float64"} or torch.dtype
        Precision to run the model in; ``None`` keeps the model's own. ``"float64"`` casts a
        float32 model (slower; exact enough for finite-difference checks).

    Returns
    -------
    ase.calculators.calculator.Calculator
        Provides ``energy``, ``free_energy``, ``energies``, ``forces`` and ``stress``.

    Raises
    ------
    ModelError
        Missing, unreadable or unsupported file; unknown device or dtype.
    """
    path = _resolve_path(path)
    device = resolve_device(device)
    module, metadata = _load_legacy(path, device)
    return DeployedModelCalculator(module, metadata, device=device, dtype=dtype)


class DeployedModelCalculator(Calculator):
    """ASE calculator around a legacy deployed (TorchScript) NequIP or Allegro model.

    Use :func:`load_potential` to build one. Each call builds the full periodic neighbour list
    at ``metadata.r_max`` (both directions, integer image shifts; any triclinic cell, also
    cells smaller than ``2 r_max``), runs the model once and reads ``atomic_energy``,
    ``forces`` and ``stress``. The total energy is the float64 sum of the per-atom energies
    (the model's float32 ``total_energy`` of ~ −6·10⁴ eV is only good to a few meV).

    Parameters
    ----------
    module : torch.jit.ScriptModule
        The loaded model.
    metadata : ModelMetadata
        Its metadata.
    device : str
        Torch device the module lives on.
    dtype : str or torch.dtype, optional
        Precision to run in; ``None`` keeps the model's own.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress"]

    def __init__(self, module, metadata, device="cpu", dtype=None, **kwargs):
        import torch

        super().__init__(**kwargs)
        self.metadata = metadata
        self.device = torch.device(device)
        self.dtype = _torch_dtype(dtype or metadata.dtype)
        self.model = module.to(device=self.device, dtype=self.dtype)
        self.model.eval()
        self._type_of = {symbol: k for k, symbol in enumerate(metadata.type_names)}

    @property
    def r_max(self):
        """Cut-off radius of the model in Å."""
        return self.metadata.r_max

    def atom_types(self, atoms):
        """Model type index of every atom; raise if an element is unknown to the model."""
        symbols = atoms.get_chemical_symbols()
        try:
            return np.fromiter((self._type_of[s] for s in symbols), dtype=np.int64, count=len(symbols))
        except KeyError:
            unknown = sorted(set(symbols) - set(self._type_of))
            raise UnknownSpeciesError(
                f"element(s) {', '.join(unknown)} not known to the model {self.metadata.path.name} "
                f"(type_names: {' '.join(self.metadata.type_names)})"
            ) from None

    def build_inputs(self, atoms):
        """Model input dictionary (tensors on the model's device and dtype) for ``atoms``."""
        import torch

        if not np.all(atoms.pbc):
            raise StructureError(
                "the deployed model needs a structure periodic in all three directions "
                f"(pbc={atoms.pbc.tolist()})"
            )
        if abs(atoms.cell.volume) < 1e-6:
            raise StructureError("the structure's cell has zero volume")
        types = self.atom_types(atoms)
        i, j, shifts = neighbor_list(atoms, self.r_max, "ijS")
        as_float = dict(dtype=self.dtype, device=self.device)
        as_int = dict(dtype=torch.long, device=self.device)
        return {
            "pos": torch.as_tensor(atoms.positions, **as_float),
            "cell": torch.as_tensor(atoms.cell[:], **as_float),
            "atom_types": torch.as_tensor(types, **as_int),
            "edge_index": torch.as_tensor(np.stack((i, j)), **as_int),
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

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        out = self.evaluate(self.build_inputs(self.atoms))
        energies = out["atomic_energy"].detach().reshape(-1).cpu().numpy().astype(np.float64)
        energy = float(energies.sum())
        forces = out["forces"].detach().cpu().numpy().astype(np.float64)
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "energies": energies,
            "forces": forces,
        }
        if "stress" in out:
            s = out["stress"].detach().reshape(3, 3).cpu().numpy().astype(np.float64)
            self.results["stress"] = np.array(
                [s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]]
            )
