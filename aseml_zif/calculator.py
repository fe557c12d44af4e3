"""Deployed NequIP / Allegro models as ASE calculators.

:func:`load_potential` is the single entry point. It recognises, by file name,

* **legacy** deployed TorchScript files written by ``nequip-deploy`` of nequip ≤ 0.6 (NequIP
  or Allegro; e.g. the paper's ``nequip_l2r6stress0.pth``), which current nequip cannot load.
  The metadata stored next to the TorchScript archive gives ``r_max``, ``type_names`` and the
  dtype.
* **current** nequip ≥ 0.7 / allegro ≥ 0.7 files, loaded through nequip's own loaders:
  AOTInductor ``*.nequip.pt2`` (``nequip-compile --mode aotinductor --target ase``),
  TorchScript ``*.nequip.pth`` (``nequip-compile --mode torchscript``, torch < 2.10 only),
  packages ``*.nequip.zip`` (``nequip-package``) and training checkpoints ``*.ckpt``.
* ``"demo"``: the small model shipped in the project's ``data/`` folder.

Every format runs in the same :class:`DeployedModelCalculator`: the same structure checks
(periodic, non-degenerate cell, species known to the model), the same periodic graph from
:func:`aseml_zif.neighbors.neighbor_list` (full list, integer image shifts, any triclinic cell,
cells smaller than ``2 r_max``) and the same outputs, since all these models take
``pos, edge_index, edge_cell_shift, cell, atom_types`` and return ``atomic_energy``, ``forces``
and ``stress``.

Units and conventions are ASE's: energy in eV, forces in eV/Å, stress in eV/Å³ as the
6-component Voigt vector ``[xx, yy, zz, yz, xz, xy]`` with ASE's sign (positive under tension),
``stress = (1/V) ∂E/∂ε``. The models compute it themselves as the derivative of the energy with
respect to a symmetric strain of the cell and positions (nequip's ``StressForceOutput`` /
``ForceStressOutput``); :mod:`aseml_zif.testing.conformance` checks it against finite strains.
"""
import contextlib
import random
import warnings
import zipfile
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
    "CURRENT_FORMATS",
]

#: file of the shipped demo model, relative to the project's ``data/`` folder
DEMO_MODEL = "demo_model/zif4_demo.nequip.zip"

#: format names of :attr:`ModelMetadata.format`, keyed by the file-name ending that selects them
CURRENT_FORMATS = {
    ".nequip.pt2": "nequip-aotinductor",
    ".nequip.pth": "nequip-torchscript",
    ".nequip.zip": "nequip-package",
    ".ckpt": "nequip-checkpoint",
}
LEGACY_FORMAT = "legacy-torchscript"

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
        ``"legacy-torchscript"`` (nequip ≤ 0.6 ``nequip-deploy`` output) or one of the values
        of :data:`CURRENT_FORMATS` (nequip ≥ 0.7).
    architecture : str
        ``"nequip"``, ``"allegro"``, or ``"unknown"`` (AOTInductor files do not record it).
    nequip_version : str
        Version of nequip that wrote the file (``"unknown"`` when the file does not record it).
    r_max : float
        Cut-off radius in Å.
    type_names : tuple of str
        Chemical symbol of each model atom type, in type-index order.
    dtype : str
        ``"float32"`` or ``"float64"``: the precision the model computes in.
    per_edge_type_cutoff : tuple of tuple of float or None
        Cut-off in Å for each (centre type, neighbour type) pair when the model uses
        per-edge-type cut-offs (nequip ≥ 0.7), else ``None``.
    """

    path: Path
    format: str
    architecture: str
    nequip_version: str
    r_max: float
    type_names: tuple
    dtype: str
    per_edge_type_cutoff: tuple = None


def _version_tuple(text):
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _first_line(exc):
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _read_legacy_extra_files(path, device):
    """``torch.jit.load`` a TorchScript archive with its nequip metadata; ModelError otherwise."""
    import torch

    extra = {key: "" for key in _LEGACY_KEYS}
    try:
        with warnings.catch_warnings():  # torch ≥ 2.10 deprecates TorchScript; these files need it
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
            module = torch.jit.load(str(path), _extra_files=extra, map_location=device)
    except Exception as exc:  # not a TorchScript archive, corrupt, or truncated
        raise ModelError(f"{path}: not a loadable deployed model ({_first_line(exc)})") from exc
    meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in extra.items()}
    return module, meta


def _load_legacy(path, device):
    """Load a legacy TorchScript archive and its metadata; raise ModelError otherwise."""
    module, meta = _read_legacy_extra_files(path, device)
    version = meta["nequip_version"]
    if not version:
        raise ModelError(
            f"{path}: TorchScript file without nequip metadata (no 'nequip_version'); "
            "only models written by nequip-deploy (nequip ≤ 0.6) or nequip ≥ 0.7 files "
            f"({', '.join('*' + k for k in CURRENT_FORMATS)}) are supported"
        )
    if _version_tuple(version) >= (0, 7, 0):
        raise ModelError(
            f"{path}: nequip {version} file is not a legacy deployed model; "
            "name it *.nequip.pth (nequip-compile output) to load it with nequip's loader"
        )
    type_names = tuple(meta["type_names"].split())
    if not type_names or not meta["r_max"]:
        raise ModelError(f"{path}: metadata lacks type_names or r_max")
    dtype = meta["model_dtype"] or meta["default_dtype"] or "float32"
    architecture = "allegro" if "allegro" in meta["config"].lower() else "nequip"
    metadata = ModelMetadata(
        path=Path(path),
        format=LEGACY_FORMAT,
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
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
            torch.jit.set_fusion_strategy(strategy)
    if meta.get("allow_tf32") and torch.cuda.is_available():
        allow = bool(int(meta["allow_tf32"]))
        torch.backends.cuda.matmul.allow_tf32 = allow
        torch.backends.cudnn.allow_tf32 = allow


def _file_format(path):
    """Format name selected by the file name: a key of CURRENT_FORMATS, else legacy.

    A legacy nequip ≤ 0.6 archive renamed ``*.nequip.pth`` is still recognised as legacy
    from its ``nequip_version``.
    """
    name = Path(path).name
    for ending, fmt in CURRENT_FORMATS.items():
        if name.endswith(ending):
            if fmt == "nequip-torchscript":
                version = _read_legacy_extra_files(path, "cpu")[1]["nequip_version"]
                if version and _version_tuple(version) < (0, 7, 0):
                    return LEGACY_FORMAT
            return fmt
    return LEGACY_FORMAT


@contextlib.contextmanager
def _preserved_random_state():
    """Keep the caller's Python, NumPy and torch random streams across nequip's global set-up.

    ``nequip.utils.global_state.set_global_state`` seeds every generator with 123 the first
    time it runs; a user's MD velocities must not depend on whether a model was loaded.
    """
    import torch

    states = (random.getstate(), np.random.get_state(), torch.random.get_rng_state())
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])


def _nequip_global_state(allow_tf32=False):
    """Run nequip's one-time global set-up (needed before it builds or loads any model).

    It sets torch's default dtype to float64 (nequip ≥ 0.7 keeps positions in float64 and
    casts internally to the model dtype) and the TorchScript fusion strategy.
    """
    try:
        from nequip.utils.global_state import set_global_state
    except ImportError as exc:
        raise ModelError(f"nequip ≥ 0.7 is needed for this model file ({_first_line(exc)})") from exc
    with _preserved_random_state():
        set_global_state(allow_tf32=allow_tf32)


def _architecture_of(module):
    """``"allegro"`` if any submodule comes from the allegro package, else ``"nequip"``.

    Classes of a packaged model live under a ``<torch_package_N>.`` prefix, which is skipped.
    """
    for sub in module.modules():
        parts = type(sub).__module__.split(".")
        if parts[0].startswith("<torch_package"):
            parts = parts[1:]
        if parts and parts[0] == "allegro":
            return "allegro"
    return "nequip"


def _saved_model_version(path, fmt):
    """nequip version recorded in a package or checkpoint file, or ``"unknown"``."""
    import yaml

    try:
        if fmt == "nequip-package":
            with zipfile.ZipFile(path) as archive:
                name = next(n for n in archive.namelist() if n.endswith("model/package_metadata.txt"))
                versions = yaml.safe_load(archive.read(name))["versions"]
        else:
            import torch

            ckpt = torch.load(path, map_location="cpu", weights_only=False)
            versions = ckpt["hyper_parameters"]["info_dict"]["versions"]
        return str(versions["nequip"])
    except (KeyError, StopIteration, TypeError, OSError, zipfile.BadZipFile):
        return "unknown"


def _current_metadata(path, fmt, raw, architecture, version):
    """ModelMetadata from nequip's metadata dict (values as strings or already parsed)."""
    type_names = raw["type_names"]
    if isinstance(type_names, str):
        type_names = type_names.split()
    cutoffs = raw.get("per_edge_type_cutoff")
    if isinstance(cutoffs, str) and cutoffs:
        from nequip.nn.embedding.utils import cutoff_str_to_fulldict

        cutoffs = cutoff_str_to_fulldict(cutoffs, type_names)
    if cutoffs:
        cutoffs = tuple(tuple(float(cutoffs[a][b]) for b in type_names) for a in type_names)
    return ModelMetadata(
        path=Path(path),
        format=fmt,
        architecture=architecture,
        nequip_version=version,
        r_max=float(raw["r_max"]),
        type_names=tuple(type_names),
        dtype=str(raw.get("model_dtype") or "float32"),
        per_edge_type_cutoff=cutoffs or None,
    )


def _load_current(path, fmt, device):
    """Load a nequip ≥ 0.7 file through nequip's loaders; return (module, ModelMetadata).

    Compiled files (``.nequip.pt2``/``.nequip.pth``) go through
    ``nequip.model.inference_models.load_compiled_model`` with the inputs and outputs of
    nequip's ``ase`` compile target; packages and checkpoints through
    ``nequip.model.saved_models.load_utils.load_saved_model`` (``ModelFromPackage`` /
    ``ModelFromCheckpoint``), run eagerly.
    """
    if not zipfile.is_zipfile(path):  # all four formats are zip archives; fail before importing nequip
        raise ModelError(f"{path}: not a {fmt} file (not a zip archive)")
    _nequip_global_state()
    try:
        if fmt in ("nequip-aotinductor", "nequip-torchscript"):
            from nequip.model.inference_models import load_compiled_model
            from nequip.scripts._compile_utils import ASE_TARGET

            module, raw = load_compiled_model(
                str(path), device, list(ASE_TARGET["input"]), list(ASE_TARGET["output"])
            )
            return module, _current_metadata(path, fmt, raw, "unknown", "unknown")
        from nequip.model.saved_models.load_utils import load_saved_model

        with _preserved_random_state():
            module = load_saved_model(str(path))
        module = module.to(device).eval()
    except ModelError:
        raise
    except Exception as exc:  # corrupt file, wrong target, incompatible torch/nequip, ...
        raise ModelError(f"{path}: cannot load this {fmt} file ({_first_line(exc)})") from exc
    version = _saved_model_version(path, fmt)
    return module, _current_metadata(path, fmt, module.metadata, _architecture_of(module), version)


def _load_model(path, device):
    """Load any supported model file; return (module, ModelMetadata)."""
    fmt = _file_format(path)
    if fmt == LEGACY_FORMAT:
        return _load_legacy(path, device)
    return _load_current(path, fmt, device)


def read_model_metadata(path):
    """Return the :class:`ModelMetadata` of a model file (any supported format).

    Parameters
    ----------
    path : str or path-like
        Model file, or ``"demo"`` for the shipped demo model.

    Raises
    ------
    ModelError
        Missing, unreadable or unsupported file.
    """
    path = _resolve_path(path)
    return _load_model(path, "cpu")[1]


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
        Model file: legacy ``nequip-deploy`` TorchScript (nequip ≤ 0.6, e.g. ``*.pth``), or a
        nequip ≥ 0.7 ``*.nequip.pt2`` / ``*.nequip.pth`` / ``*.nequip.zip`` / ``*.ckpt``; or
        ``"demo"`` for the small model shipped with aseml_zif.
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:N]"``.
    dtype : {None, "float32", "float64"} or torch.dtype
        Precision to run the model in; ``None`` keeps the model's own. ``"float64"`` casts a
        float32 legacy model (slower; exact enough for finite-difference checks). nequip ≥ 0.7
        files run in the precision they were trained/compiled in (another one is refused).

    Returns
    -------
    DeployedModelCalculator
        ASE calculator providing ``energy``, ``free_energy``, ``energies``, ``forces`` and
        ``stress``.

    Raises
    ------
    ModelError
        Missing, unreadable or unsupported file; unknown device or dtype.
    """
    path = _resolve_path(path)
    device = resolve_device(device)
    module, metadata = _load_model(path, device)
    return DeployedModelCalculator(module, metadata, device=device, dtype=dtype)


class DeployedModelCalculator(Calculator):
    """ASE calculator around a deployed NequIP or Allegro model (any supported format).

    Use :func:`load_potential` to build one. Each call checks the structure, builds the full
    periodic neighbour list at ``metadata.r_max`` (both directions, integer image shifts; any
    triclinic cell, also cells smaller than ``2 r_max``; pruned to the per-edge-type cut-offs
    when the model has them), runs the model once and reads ``atomic_energy``, ``forces`` and
    ``stress``. The total energy is the float64 sum of the per-atom energies (a float32
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
        self.device = torch.device(device)
        self.dtype = _torch_dtype(dtype or metadata.dtype)
        if metadata.format == LEGACY_FORMAT:
            self.model = module.to(device=self.device, dtype=self.dtype)
            self.input_dtype = self.dtype
        else:
            if self.dtype != _torch_dtype(metadata.dtype):
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
            i, j, shifts = neighbor_list(atoms, self.r_max, "ijS")
        else:
            i, j, shifts, d = neighbor_list(atoms, self.r_max, "ijSd")
            keep = d < self._pair_cutoff[types[i], types[j]]
            i, j, shifts = i[keep], j[keep], shifts[keep]
        return types, np.stack((i, j)).astype(np.int64), shifts

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
