"""aseml_zif.calculator.convert: the paper's legacy model on current nequip, exactly.

The converted package is compared with the legacy TorchScript model (an independent
implementation of the same network: nequip 0.5.6 + e3nn 0.5.1 code compiled into the file) on
the shared crystal, an ab initio glass and a rattled, strained cell, in float64; it passes the
conformance checks; every legacy option the converter does not reproduce is refused by name.
"""
import numpy as np
import pytest
import yaml

from aseml_zif import convert_legacy_model, load_potential
from aseml_zif.calculator import read_model_metadata
from aseml_zif.calculator import convert as convert_module
from aseml_zif.errors import ModelError
from aseml_zif.testing import CalculatorConformance
from aseml_zif.testing.toy_model import toy_zif_cell, write_toy_legacy_model

#: the stored configuration of a legacy NequIP model like the paper's (nequip 0.5.6 keys)
NEQUIP_CONFIG = {
    "model_builders": ["SimpleIrrepsConfig", "EnergyModel", "PerSpeciesRescale",
                       "StressForceOutput", "RescaleEnergyEtc"],
    "type_names": ["H", "C", "N", "Zn"],
    "r_max": 4.0,
    "num_layers": 2,
    "l_max": 1,
    "parity": False,
    "num_features": 8,
    "feature_irreps_hidden": "8x0e+8x1e",
    "irreps_edge_sh": "1x0e+1x1e",
    "chemical_embedding_irreps_out": "8x0e",
    "nonlinearity_type": "gate",
    "nonlinearity_scalars": {"e": "silu", "o": "tanh"},
    "nonlinearity_gates": {"e": "silu", "o": "tanh"},
    "resnet": False,
    "use_sc": True,
    "avg_num_neighbors": 20.0,
}


def _doctored(tmp_path, **changes):
    config = dict(NEQUIP_CONFIG, **changes)
    return write_toy_legacy_model(tmp_path / "doctored.pth", config=yaml.safe_dump(config))


@pytest.mark.parametrize(
    "option, value",
    [
        ("resnet", True),
        ("nonlinearity_type", "norm"),
        ("nonlinearity_scalars", {"e": "ssp", "o": "tanh"}),
        ("nonlinearity_gates", {"e": "silu", "o": "abs"}),
        ("per_edge_type_cutoff", {"H": 3.0, "C": 4.0, "N": 4.0, "Zn": 4.0}),
        ("global_rescale_shift", -220.0),
        ("edge_sh_normalization", "norm"),
        ("chemical_embedding_irreps_out", "8x0e+8x1o"),
        ("avg_num_neighbors", {"H": 10.0, "C": 20.0, "N": 20.0, "Zn": 30.0}),
        ("model_builders", ["SimpleIrrepsConfig", "EnergyModel", "PairPotential", "StressForceOutput"]),
    ],
)
def test_unsupported_legacy_option_is_refused_by_name(tmp_path, option, value):
    source = _doctored(tmp_path, **{option: value})
    target = tmp_path / "out.nequip.zip"
    with pytest.raises(ModelError, match=rf"legacy option {option}=.*not supported") as info:
        convert_legacy_model(source, target, progress=False)
    assert "nothing was written" in str(info.value)
    assert not target.exists()


def test_legacy_allegro_is_refused(tmp_path):
    source = _doctored(tmp_path, model_builders=["allegro.model.Allegro", "PerSpeciesRescale",
                                                 "StressForceOutput", "RescaleEnergyEtc"])
    with pytest.raises(ModelError, match="(?i)allegro"):
        convert_legacy_model(source, tmp_path / "out.nequip.zip", progress=False)


def test_undoctored_config_passes_the_option_checks(tmp_path):
    """Control: the same toy file with the plain config gets past every option check and is
    refused only because it holds no NequIP weights (so the refusals above are specific)."""
    source = _doctored(tmp_path)
    with pytest.raises(ModelError, match="num_layers") as info:
        convert_legacy_model(source, tmp_path / "out.nequip.zip", progress=False)
    assert "weights hold fewer interaction layers" in str(info.value)


def test_destination_must_be_a_nequip_package(tmp_path):
    with pytest.raises(ModelError, match=r"\.nequip\.zip"):
        convert_legacy_model(_doctored(tmp_path), tmp_path / "out.pth", progress=False)


# --- the paper's model -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def converted64(paper_model_path, tmp_path_factory):
    return convert_legacy_model(paper_model_path, tmp_path_factory.mktemp("conv") / "paper.nequip.zip",
                                dtype="float64", progress=False)


@pytest.fixture(scope="module")
def new64(converted64):
    return load_potential(converted64, device="cpu")


def _rattled_strained(atoms):
    atoms = atoms.copy()
    rng = np.random.default_rng(3)
    atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
    strain = np.array([[0.02, 0.01, 0.0], [0.01, -0.015, 0.005], [0.0, 0.005, 0.01]])
    atoms.set_cell(atoms.cell[:] @ (np.eye(3) + strain), scale_atoms=True)
    return atoms


@pytest.mark.paper_model
@pytest.mark.parametrize("which", ["crystal", "glass", "rattled-strained"])
def test_converted_matches_legacy_in_float64(which, paper_calc64, new64, crystal_lmp, glass_paths):
    from aseml_zif.io import read_structure

    atoms = {"crystal": lambda: crystal_lmp, "glass": lambda: read_structure(glass_paths[0]),
             "rattled-strained": lambda: _rattled_strained(crystal_lmp)}[which]()
    results = []
    for calc in (paper_calc64, new64):
        a = atoms.copy()
        a.calc = calc
        results.append((a.get_potential_energy(), a.get_forces(), a.get_stress()))
    (e0, f0, s0), (e1, f1, s1) = results
    assert abs(e0 - e1) < 1e-6
    assert np.abs(f0 - f1).max() < 1e-6
    assert np.abs(s0 - s1).max() < 1e-8
    assert np.abs(f0).max() > 0.5  # a real, non-trivial comparison (thermal snapshots)


@pytest.mark.paper_model
def test_converted_package_records_its_source(converted64, paper_model_path):
    from aseml_zif.training.fetch import MODELS

    meta = read_model_metadata(converted64)
    assert meta.format == "nequip-package" and meta.architecture == "nequip"
    assert meta.type_names == ("H", "C", "N", "Zn") and meta.r_max == 6.0
    assert meta.dtype == "float64"
    assert meta.converted_from["sha256"] == MODELS["castel2024-nequip"]["sha256"]
    assert meta.converted_from["nequip_version"] == "0.5.6"
    assert meta.converted_from["source"] == paper_model_path.name


@pytest.mark.paper_model
def test_nequip_loads_the_package_itself(converted64, new64):
    """nequip's own loader (no aseml_zif code) gives the same energy as our calculator."""
    import torch
    from nequip.data import AtomicDataDict, compute_neighborlist_, from_ase
    from nequip.model.saved_models.load_utils import load_saved_model

    atoms = toy_zif_cell()
    model = load_saved_model(str(converted64))
    data = from_ase(atoms)
    data[AtomicDataDict.ATOM_TYPE_KEY] = torch.as_tensor(
        [model.type_names.index(s) for s in atoms.get_chemical_symbols()])
    data = AtomicDataDict.batched_from_list([compute_neighborlist_(data, 6.0)])
    energy = float(model(data)[AtomicDataDict.TOTAL_ENERGY_KEY].detach().sum())
    atoms.calc = new64
    assert energy == pytest.approx(atoms.get_potential_energy(), abs=1e-8)


@pytest.mark.paper_model
def test_disagreeing_conversion_is_not_written(paper_model_path, tmp_path, monkeypatch):
    """A conversion whose weights are off (here: a Bessel frequency nudged by 1e-4) is refused."""
    build = convert_module.build_current_nequip

    def nudged(*args, **kwargs):
        import torch

        model = build(*args, **kwargs)
        with torch.no_grad():
            model.model.func.bessel_encode.bessel_weights[0, 0] += 1e-4
        return model

    monkeypatch.setattr(convert_module, "build_current_nequip", nudged)
    target = tmp_path / "bad.nequip.zip"
    with pytest.raises(ModelError, match="disagrees"):
        convert_legacy_model(paper_model_path, target, progress=False)
    assert not target.exists() and not list(tmp_path.glob("*.part"))


@pytest.mark.paper_model
class TestConvertedPaperModelConformance(CalculatorConformance):
    """F = −∇E, stress = ∂E/∂ε / V, invariances and extensivity for the converted model (float64),
    on an 8-atom triclinic cell far smaller than 2·r_max, as for the legacy model."""

    test_nve_energy_conservation = None  # a random 8-atom cell is no system to run MD on
    force_components = 3
    stress_split_directions = False
    stress_atol = 2e-6
    energy_atol_per_atom = 1e-8

    @pytest.fixture
    def calculator(self, new64):
        return new64

    @pytest.fixture
    def structure(self):
        return toy_zif_cell()
