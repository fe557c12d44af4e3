"""``convert_legacy_model``: a legacy nequip ≤ 0.6 NequIP model as a current nequip package.

nequip ≥ 0.7 does not load models of nequip ≤ 0.6 (its FAQ: migrating them is not
supported). The converter reads the legacy file's metadata and TorchScript weights, checks
that every architectural option is one it reproduces exactly, builds the same network with
nequip's own builder (:func:`nequip.model.FullNequIPGNNModel`) and transforms the weights
(:mod:`.legacy_nequip`), compares the two models on a structure it builds itself, and writes a
``.nequip.zip`` package with nequip's packaging (``torch.package`` with nequip's module lists,
as ``nequip-package build`` does) that :func:`aseml_zif.load_potential`, ``nequip-compile``
and nequip's ``NequIPCalculator`` load.
"""
import os
import tempfile
from pathlib import Path

import numpy as np

from .._checksum import file_sha256
from ..errors import ModelError
from .current import CONVERSION_RECORD, nequip_global_state, preserved_random_state
from .formats import LEGACY_FORMAT, first_line
from .legacy import load_legacy, read_legacy_config
from .legacy_nequip import build_current_nequip

__all__ = ["convert_legacy_model", "legacy_nequip_settings", "CONVERSION_TOLERANCE"]

#: largest differences (float64, self-check structure) a converted model may show
CONVERSION_TOLERANCE = {"energy_per_atom_eV": 1e-6, "forces_eV_A": 1e-6, "stress_eV_A3": 1e-8}

_BUILDERS = {"SimpleIrrepsConfig", "EnergyModel", "PerSpeciesRescale", "StressForceOutput",
             "ForceOutput", "RescaleEnergyEtc"}
_DEFAULTS = {  # nequip 0.5/0.6 defaults of the options a stored config may leave out
    "nonlinearity_type": "gate",
    "resnet": False,
    "use_sc": True,
    "num_basis": 8,
    "BesselBasis_trainable": True,
    "PolynomialCutoff_p": 6,
    "invariant_layers": 1,
    "invariant_neurons": 8,
    "edge_sh_normalization": "component",
    "edge_sh_normalize": True,
    "nonlinearity_scalars": {"e": "silu", "o": "tanh"},
    "nonlinearity_gates": {"e": "silu", "o": "tanh"},
}


def _refuse(path, option, value, why):
    raise ModelError(f"{path}: legacy option {option}={value!r} is not supported by the converter "
                     f"({why}); nothing was written")


def legacy_nequip_settings(path, module, config):
    """The architecture of a legacy NequIP model, refusing every option not converted exactly.

    Parameters
    ----------
    path : pathlib.Path
        The legacy file (named in errors).
    module : torch.jit.ScriptModule
        Its TorchScript module.
    config : dict
        Its stored training configuration (:func:`.legacy.read_legacy_config`).

    Returns
    -------
    dict
        Settings for :func:`.legacy_nequip.build_current_nequip`.

    Raises
    ------
    ModelError
        Naming the first option that is not supported (legacy Allegro, resnet, other
        nonlinearities, per-edge-type cut-offs, a global energy shift, unknown builders, ...).
    """
    def get(key):
        return config.get(key, _DEFAULTS.get(key))

    builders = config.get("model_builders")
    if not isinstance(builders, list) or not builders:
        _refuse(path, "model_builders", builders, "no model builders recorded")
    for builder in builders:
        if "allegro" in str(builder).lower():
            _refuse(path, "model_builders", builder, "legacy Allegro models cannot be converted; "
                    "run them as they are with load_potential")
        if builder not in _BUILDERS:
            _refuse(path, "model_builders", builder, f"only {sorted(_BUILDERS)} are known")
    if "EnergyModel" not in builders:
        _refuse(path, "model_builders", builders, "no EnergyModel")
    checks = [
        ("resnet", False, "residual updates"),
        ("nonlinearity_type", "gate", "only gate nonlinearities"),
        ("nonlinearity_scalars", {"e": "silu", "o": "tanh"}, "only silu/tanh scalars"),
        ("nonlinearity_gates", {"e": "silu", "o": "tanh"}, "only silu/tanh gates"),
        ("edge_sh_normalization", "component", "only component-normalised harmonics"),
        ("edge_sh_normalize", True, "only normalised edge vectors"),
    ]
    for key, wanted, why in checks:
        if get(key) != wanted:
            _refuse(path, key, get(key), why)
    for key in ("per_edge_type_cutoff", "global_rescale_shift", "ZBL", "pair_style"):
        if config.get(key) not in (None, False, 0, 0.0):
            _refuse(path, key, config[key], "not reproduced by the converter")
    state = module.state_dict()
    if "shift_by" in state and state["shift_by"].numel():
        _refuse(path, "global_rescale_shift", float(state["shift_by"].reshape(-1)[0]),
                "a global energy shift")
    embed_irreps = str(get("chemical_embedding_irreps_out") or "")
    if embed_irreps and not embed_irreps.endswith("x0e"):
        _refuse(path, "chemical_embedding_irreps_out", embed_irreps, "only scalar embeddings")
    avg = config.get("avg_num_neighbors")
    if isinstance(avg, dict):
        _refuse(path, "avg_num_neighbors", avg, "per-type normalisation")
    if avg is not None and not isinstance(avg, (int, float)):
        _refuse(path, "avg_num_neighbors", avg, "not a number")
    type_names = config.get("type_names")
    num_layers = config.get("num_layers")
    for key, value in (("type_names", type_names), ("num_layers", num_layers),
                       ("r_max", config.get("r_max")),
                       ("feature_irreps_hidden", config.get("feature_irreps_hidden")),
                       ("irreps_edge_sh", config.get("irreps_edge_sh"))):
        if not value:
            _refuse(path, key, value, "missing from the stored configuration")
    if any(f"model.func.layer{i}_convnet.conv.linear_1.weight" not in state for i in range(num_layers)):
        _refuse(path, "num_layers", num_layers, "the weights hold fewer interaction layers")
    if f"model.func.layer{num_layers}_convnet.conv.linear_1.weight" in state:
        _refuse(path, "num_layers", num_layers, "the weights hold more interaction layers")
    fc = [k for k in state if k.startswith("model.func.layer0_convnet.conv.fc.layer")]
    return {
        "type_names": list(type_names),
        "r_max": float(config["r_max"]),
        "num_layers": int(num_layers),
        "feature_irreps_hidden": str(config["feature_irreps_hidden"]),
        "irreps_edge_sh": str(config["irreps_edge_sh"]),
        "num_basis": int(get("num_basis")),
        "bessel_trainable": bool(get("BesselBasis_trainable")),
        "polynomial_p": int(get("PolynomialCutoff_p")),
        "radial_depth": len(fc) - 1,
        "radial_width": int(state["model.func.layer0_convnet.conv.fc.layer0.weight"].shape[1]),
        # no normalisation (None) is a division by √1
        "avg_num_neighbors": float(avg) if avg is not None else 1.0,
        "use_sc": bool(get("use_sc")),
    }


def check_structure(type_names, r_max, seed=0):
    """A small periodic structure with every species of the model, built here (no file).

    Two atoms of each type, placed at random in a cube of edge ``r_max + 2`` Å (so that every
    atom sees several periodic images) with no two atoms closer than 1 Å, in a slightly
    sheared cell.
    """
    from ase import Atoms

    rng = np.random.default_rng(seed)
    symbols = [s for s in type_names for _ in range(2)]
    edge = r_max + 2.0
    cell = np.array([[edge, 0.0, 0.0], [0.3, edge * 0.97, 0.0], [-0.2, 0.4, edge * 1.03]])
    positions = []
    while len(positions) < len(symbols):
        trial = rng.random(3) @ cell
        if all(np.linalg.norm(trial - p) > 1.0 for p in positions):
            positions.append(trial)
    return Atoms(symbols, positions=positions, cell=cell, pbc=True)


def compare_models(legacy_calc, new_calc, atoms):
    """Largest differences between two calculators on ``atoms``: energy/atom, forces, stress."""
    results = []
    for calc in (legacy_calc, new_calc):
        a = atoms.copy()
        a.calc = calc
        results.append((a.get_potential_energy(), a.get_forces(),
                        a.get_stress() if "stress" in calc.implemented_properties else None))
    (e0, f0, s0), (e1, f1, s1) = results
    diff = {"energy_per_atom_eV": abs(e0 - e1) / len(atoms),
            "forces_eV_A": float(np.abs(f0 - f1).max())}
    if s0 is not None and s1 is not None:
        diff["stress_eV_A3"] = float(np.abs(s0 - s1).max())
    return diff


def _example_data(atoms, type_names, r_max):
    """nequip AtomicDataDict of ``atoms`` (batched, with its graph), kept for nequip-compile."""
    import torch
    from nequip.data import AtomicDataDict, compute_neighborlist_, from_ase

    data = from_ase(atoms)
    data[AtomicDataDict.ATOM_TYPE_KEY] = torch.as_tensor(
        [type_names.index(s) for s in atoms.get_chemical_symbols()], dtype=torch.long)
    data = compute_neighborlist_(data, r_max)
    return AtomicDataDict.batched_from_list([data])


def _write_package(model, data, destination, config_text, record=None):
    """Write ``model`` as a nequip package (the steps of ``nequip-package build``, eager model
    only: the one ``load_potential`` and ``nequip-compile`` load).

    ``record``: what a converted model says about its legacy source (``CONVERSION_RECORD``);
    ``None`` for a model that was not converted (``benchmarks/student_architectures.py``).
    """
    import torch
    import yaml
    from nequip.model.saved_models.package import _suppress_package_importer_exporter_warnings
    from nequip.model.utils import _EAGER_MODEL_KEY
    from nequip.scripts._package_utils import _EXTERNAL_MODULES, _INTERNAL_MODULES, _MOCK_MODULES
    from nequip.scripts.package import _CURRENT_NEQUIP_PACKAGE_VERSION
    from nequip.train.lightning import _SOLE_MODEL_KEY
    from nequip.utils.versions import get_current_code_versions
    from nequip.utils.versions.version_utils import get_version_safe

    metadata = {
        "versions": get_current_code_versions(verbose=False),
        "external_modules": {k: get_version_safe(k) for k in _EXTERNAL_MODULES},
        "package_version_id": _CURRENT_NEQUIP_PACKAGE_VERSION,
        "available_models": [_EAGER_MODEL_KEY],
        "atom_types": dict(enumerate(model.type_names)),
    }
    modules = torch.nn.ModuleDict({_SOLE_MODEL_KEY: model.to("cpu")})
    with _suppress_package_importer_exporter_warnings():
        with torch.package.PackageExporter(str(destination),
                                           importer=(torch.package.importer.sys_importer,)) as exp:
            exp.mock([f"{pkg}.**" for pkg in _MOCK_MODULES])
            exp.extern([f"{pkg}.**" for pkg in _EXTERNAL_MODULES])
            exp.intern([f"{pkg}.**" for pkg in _INTERNAL_MODULES])
            exp.save_pickle("model", "example_data.pkl", data, dependencies=True)
            exp.save_text("model", "config.yaml", config_text)
            exp.save_text("model", "package_metadata.txt", yaml.dump(metadata, default_flow_style=False))
            if record is not None:
                exp.save_text("model", Path(CONVERSION_RECORD).name, yaml.dump(record, sort_keys=False))
            exp.save_pickle("model", f"{_EAGER_MODEL_KEY}_model.pkl", modules, dependencies=True)


def convert_legacy_model(source, destination, dtype=None, progress=True):
    """Convert a legacy (nequip ≤ 0.6) deployed NequIP model into a current nequip package.

    Parameters
    ----------
    source : str or path-like
        Legacy ``nequip-deploy`` file, e.g. the paper's ``nequip_l2r6stress0.pth``.
    destination : str or path-like
        Package to write; must end in ``.nequip.zip``. Written atomically: a failed
        conversion leaves no file.
    dtype : {None, "float32", "float64"}
        Precision of the converted model; ``None`` keeps the legacy model's own (the paper's
        model: float32). The check against the legacy model is always made in float64.
    progress : bool
        Print one line per stage.

    Returns
    -------
    pathlib.Path
        The package written. It records its source (file name, SHA-256, nequip version) in
        ``model/converted_from.yaml`` (:attr:`ModelMetadata.converted_from` once loaded).

    Raises
    ------
    ModelError
        Not a legacy NequIP model; a legacy option the converter does not reproduce (named);
        a converted model that disagrees with the legacy one on the check structure by more
        than :data:`CONVERSION_TOLERANCE` (nothing is written).
    """
    from .deployed import DeployedModelCalculator
    from .loading import resolve_path

    source = resolve_path(source)
    destination = Path(destination)
    if not destination.name.endswith(".nequip.zip"):
        raise ModelError(f"{destination}: the converted package must be named *.nequip.zip")
    module, metadata = load_legacy(source, "cpu")
    if metadata.format != LEGACY_FORMAT or metadata.architecture != "nequip":
        raise ModelError(f"{source}: only legacy NequIP models can be converted "
                         f"(this is {metadata.architecture})")
    config = read_legacy_config(source)
    settings = legacy_nequip_settings(source, module, config)
    if tuple(settings["type_names"]) != metadata.type_names:
        _refuse(source, "type_names", settings["type_names"],
                f"the file's metadata says {' '.join(metadata.type_names)}")
    dtype = dtype or metadata.dtype
    say = print if progress else (lambda *a, **k: None)
    say(f"converting {source.name} (nequip {metadata.nequip_version}) to current nequip ...")
    nequip_global_state()
    try:
        with preserved_random_state():
            exact = build_current_nequip(module, settings, "float64", source)
            model = exact if dtype == "float64" else build_current_nequip(module, settings, dtype, source)
    except ModelError:
        raise
    except Exception as exc:  # nequip's builder refusing the legacy shapes
        raise ModelError(f"{source}: cannot build the current nequip model ({first_line(exc)})") from exc

    atoms = check_structure(settings["type_names"], settings["r_max"])
    legacy_calc = DeployedModelCalculator(module, metadata, dtype="float64")
    new_meta = metadata.__class__(path=destination, format="nequip-package", architecture="nequip",
                                  nequip_version="current", r_max=metadata.r_max,
                                  type_names=metadata.type_names, dtype="float64")
    diff = compare_models(legacy_calc, DeployedModelCalculator(exact.eval(), new_meta), atoms)
    bad = {k: v for k, v in diff.items() if v > CONVERSION_TOLERANCE[k]}
    if bad:
        raise ModelError(f"{source}: the converted model disagrees with the legacy one on the "
                         f"check structure ({', '.join(f'{k} {v:.2e}' for k, v in bad.items())}); "
                         "nothing was written")
    say("  check against the legacy model (float64): "
        + ", ".join(f"{k} {v:.1e}" for k, v in diff.items()))

    import yaml

    record = {
        "source": source.name,
        "sha256": file_sha256(source),
        "nequip_version": metadata.nequip_version,
        "dtype": dtype,
        "check_float64": {k: float(v) for k, v in diff.items()},
    }
    config_text = yaml.dump({"converted_from": record, "architecture": settings}, sort_keys=False)
    data = _example_data(atoms, settings["type_names"], settings["r_max"])
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=destination.parent, suffix=".nequip.zip.part")
    os.close(handle)
    try:
        _write_package(model.eval(), data, tmp, config_text, record)
        os.replace(tmp, destination)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, ModelError):
            raise
        raise ModelError(f"{destination}: cannot write the package ({first_line(exc)})") from exc
    say(f"  wrote {destination}")
    return destination
