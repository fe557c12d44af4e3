"""aseml_zif.calculator: loading every model format, structure checks, errors, devices.

Fast tests run on a toy pair potential written in the legacy nequip-deploy format
(aseml_zif.testing.toy_model) and compared with an independent NumPy/ASE evaluation; a few
calls of the paper's model pin its published-data values; nequip ≥ 0.7 files are trained,
packaged and compiled at test time in a ``slow`` test (minutes), and the shipped demo package is
used when present.
"""
import os

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.fd import FiniteDifferenceCalculator

from aseml_zif.calculator import (
    CURRENT_FORMATS,
    DeployedModelCalculator,
    load_potential,
    read_model_metadata,
    resolve_device,
)
from aseml_zif.errors import AsemlZifError, ModelError, StructureError, UnknownSpeciesError
from aseml_zif.testing import CalculatorConformance
from aseml_zif.testing.toy_model import toy_pair_energy, toy_zif_cell, write_toy_legacy_model


@pytest.fixture(scope="module")
def toy_path(tmp_path_factory):
    return write_toy_legacy_model(tmp_path_factory.mktemp("toy") / "toy.pth")


@pytest.fixture(scope="module")
def toy(toy_path):
    return load_potential(toy_path, device="cpu")


def _energy(calc, atoms):
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_potential_energy()


# --- the graph and the outputs, against an independent implementation ------------------------


@pytest.mark.parametrize(
    "cellpar",
    [
        [5.6, 6.1, 5.9, 82.0, 97.0, 104.0],  # triclinic, every edge < r_max: many images
        [2.9, 3.1, 3.3, 70.0, 110.0, 95.0],  # edges < r_max / 1.2: ≥ 2 images per direction
        [9.0, 9.5, 10.0, 90.0, 90.0, 90.0],  # orthorhombic, larger than 2 r_max
    ],
)
def test_energy_matches_independent_pair_sum(toy, cellpar):
    from ase.geometry import cellpar_to_cell

    rng = np.random.default_rng(11)
    cell = cellpar_to_cell(cellpar)
    atoms = Atoms("ZnN2C2H", cell=cell, pbc=True, scaled_positions=rng.uniform(size=(6, 3)))
    assert _energy(toy, atoms) == pytest.approx(toy_pair_energy(atoms), rel=1e-12, abs=1e-12)


def test_small_triclinic_cell_energy_per_atom_equals_supercell(toy):
    atoms = toy_zif_cell()
    e1 = _energy(toy, atoms) / len(atoms)
    for reps in [(2, 2, 2), (3, 1, 2)]:
        assert _energy(toy, atoms.repeat(reps)) / (len(atoms) * np.prod(reps)) == pytest.approx(e1, rel=1e-12)


def test_results_have_ase_shapes_and_conventions(toy):
    atoms = toy_zif_cell()
    atoms.calc = toy
    assert atoms.get_potential_energy() == pytest.approx(atoms.get_potential_energies().sum(), rel=1e-12)
    assert atoms.get_potential_energy(force_consistent=True) == atoms.get_potential_energy()
    assert atoms.get_forces().shape == (len(atoms), 3)
    assert np.abs(atoms.get_forces().sum(axis=0)).max() < 1e-10  # Newton's third law
    stress = atoms.get_stress(voigt=False)
    assert np.allclose(stress, stress.T)
    # ASE's own numerical stress (its sign and Voigt order) agrees with the model's
    assert np.allclose(atoms.get_stress(), FiniteDifferenceCalculator(toy, eps_strain=1e-5).get_stress(atoms), atol=1e-8)


class TestToyLegacyModelConformance(CalculatorConformance):
    """The conformance mixin through load_potential on the toy legacy-format model."""

    @pytest.mark.slow
    def test_nve_energy_conservation(self, calculator, structure):
        """~25 s here (TorchScript autograd latency of ~0.1 s per call); NVE runs by default on EMT."""
        super().test_nve_energy_conservation(calculator, structure)

    @pytest.fixture
    def calculator(self, toy):
        return toy

    @pytest.fixture
    def structure(self):
        return toy_zif_cell()


# --- structure errors -----------------------------------------------------------------------


def test_unknown_element_is_named(toy):
    atoms = toy_zif_cell()
    atoms[0].symbol = "Cu"
    with pytest.raises(UnknownSpeciesError, match="Cu") as info:
        _energy(toy, atoms)
    assert "toy.pth" in str(info.value) and "H C N Zn" in str(info.value)


@pytest.mark.parametrize("pbc", [False, (True, True, False)])
def test_non_periodic_structure_is_refused(toy, pbc):
    atoms = toy_zif_cell()
    atoms.pbc = pbc
    with pytest.raises(StructureError, match="periodic"):
        _energy(toy, atoms)


def test_zero_volume_cell_is_refused(toy):
    atoms = toy_zif_cell()
    cell = atoms.cell[:].copy()
    cell[2] = cell[0] + cell[1]  # coplanar cell vectors
    atoms.set_cell(cell)
    with pytest.raises(StructureError, match="zero volume"):
        _energy(toy, atoms)


# --- files, metadata, devices, dtypes -------------------------------------------------------


def test_toy_metadata(toy_path):
    meta = read_model_metadata(toy_path)
    assert meta.format == "legacy-torchscript" and meta.nequip_version == "0.5.6"
    assert meta.type_names == ("H", "C", "N", "Zn") and meta.r_max == 4.0 and meta.dtype == "float64"


def test_legacy_file_named_like_current_format_is_still_legacy(toy_path, tmp_path):
    renamed = tmp_path / "toy.nequip.pth"
    renamed.symlink_to(toy_path)
    assert read_model_metadata(renamed).format == "legacy-torchscript"


def test_missing_file_raises_model_error(tmp_path):
    with pytest.raises(ModelError, match="no such model file"):
        load_potential(tmp_path / "absent.pth")


@pytest.mark.parametrize("name", ["junk.pth", *("junk" + ending for ending in CURRENT_FORMATS)])
def test_corrupt_file_raises_model_error_naming_it(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"this is not a model\n" * 10)
    with pytest.raises(ModelError, match=name.replace(".", r"\.")):
        load_potential(path, device="cpu")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_torchscript_without_nequip_metadata_is_refused(tmp_path):
    import torch

    path = tmp_path / "plain.pth"
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(path))
    with pytest.raises(ModelError, match="without nequip metadata"):
        load_potential(path, device="cpu")


def test_errors_share_the_package_base_class():
    assert issubclass(ModelError, AsemlZifError) and issubclass(UnknownSpeciesError, StructureError)


def test_device_auto_follows_cuda_availability(monkeypatch):
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda" and resolve_device("cuda:1") == "cuda:1"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu" and resolve_device(None) == "cpu"
    with pytest.raises(ModelError, match="CUDA is not available"):
        resolve_device("cuda")
    with pytest.raises(ModelError, match="unknown device"):
        resolve_device("tpu")


def test_dtype_cast_and_bad_dtype(toy_path):
    atoms = toy_zif_cell()
    e64 = _energy(load_potential(toy_path, device="cpu"), atoms)
    calc32 = load_potential(toy_path, device="cpu", dtype="float32")
    assert calc32.build_inputs(atoms)["pos"].dtype.is_floating_point
    assert str(calc32.build_inputs(atoms)["pos"].dtype) == "torch.float32"
    assert _energy(calc32, atoms) == pytest.approx(e64, rel=1e-5)
    with pytest.raises(ModelError, match="unsupported dtype"):
        load_potential(toy_path, device="cpu", dtype="float16")


# --- the paper's model -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def paper_calc(paper_model_path):
    return load_potential(paper_model_path)


@pytest.mark.paper_model
def test_paper_model_metadata(paper_model_path):
    meta = read_model_metadata(paper_model_path)
    assert meta.format == "legacy-torchscript" and meta.architecture == "nequip"
    assert meta.nequip_version == "0.5.6" and meta.r_max == 6.0
    assert meta.type_names == ("H", "C", "N", "Zn") and meta.dtype == "float32"


@pytest.mark.paper_model
def test_paper_model_on_shared_crystal(paper_calc, crystal_lmp):
    """Values measured with the published model (FIELD-NOTES): −220.894 eV/atom, max|F| 3.9 eV/Å."""
    assert isinstance(paper_calc, DeployedModelCalculator)
    atoms = crystal_lmp.copy()
    atoms.calc = paper_calc
    assert atoms.get_potential_energy() / len(atoms) == pytest.approx(-220.894, abs=2e-3)
    assert np.linalg.norm(atoms.get_forces(), axis=1).max() == pytest.approx(3.85, abs=0.1)
    assert np.abs(atoms.get_forces().sum(axis=0)).max() < 1e-2
    assert np.all(np.isfinite(atoms.get_stress()))


@pytest.mark.paper_model
def test_paper_model_on_the_ten_glasses(paper_calc, crystal_lmp, glasses):
    """FIELD-NOTES: the ten ab initio glasses lie 2–24 meV/atom above the thermal crystal."""
    crystal = crystal_lmp.copy()
    crystal.calc = paper_calc
    e_crystal = crystal.get_potential_energy() / len(crystal)
    above = []
    for glass in glasses:
        atoms = glass.copy()
        atoms.calc = paper_calc
        above.append(atoms.get_potential_energy() / len(atoms) - e_crystal)
        assert atoms.get_forces().shape == (len(atoms), 3)
        assert np.abs(atoms.get_forces().sum(axis=0)).max() < 1e-2
        assert atoms.get_stress().shape == (6,) and np.all(np.isfinite(atoms.get_stress()))
    assert 1.5e-3 < min(above) and max(above) < 25e-3, above


@pytest.mark.paper_model
def test_paper_model_refuses_copper(paper_calc):
    with pytest.raises(UnknownSpeciesError, match="Cu"):
        _energy(paper_calc, bulk("Cu", cubic=True))


# --- nequip ≥ 0.7 files ----------------------------------------------------------------------


def test_demo_package_is_shipped_and_loads():
    """The shipped demo (a nequip package) loads through nequip's loader with the same checks."""
    meta = read_model_metadata("demo")
    assert meta.format == "nequip-package" and set(meta.type_names) == {"H", "C", "N", "Zn"}
    calc = load_potential("demo", device="cpu")
    atoms = toy_zif_cell()
    assert np.isfinite(_energy(calc, atoms))
    with pytest.raises(UnknownSpeciesError, match="Cu"):
        _energy(calc, bulk("Cu", cubic=True))


def _emt_frames(n_frames, seed=1):
    """Rattled, strained 32-atom Cu/Au cells labelled with ASE's EMT (cheap training data)."""
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(n_frames):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 2))
        symbols = np.array(atoms.get_chemical_symbols())
        symbols[rng.choice(len(atoms), 8, replace=False)] = "Au"
        atoms.set_chemical_symbols(symbols)
        atoms.positions += rng.normal(0, 0.08, atoms.positions.shape)
        eps = rng.normal(0, 0.01, (3, 3))
        atoms.set_cell(atoms.cell[:] @ (np.eye(3) + (eps + eps.T) / 2), scale_atoms=True)
        atoms.calc = EMT()
        atoms.calc = SinglePointCalculator(
            atoms, energy=atoms.get_potential_energy(), forces=atoms.get_forces(), stress=atoms.get_stress()
        )
        frames.append(atoms)
    return frames


@pytest.fixture(scope="module")
def nequip_files(tmp_path_factory):
    """A 2-epoch float64 NequIP model on EMT Cu/Au frames: checkpoint, package, AOTInductor file."""
    import ase.io

    from aseml_zif.training.config import training_config
    from aseml_zif.training.runner import compile_model, package, train

    work = tmp_path_factory.mktemp("nequip07")
    frames = _emt_frames(20)
    ase.io.write(work / "train.xyz", frames[:16])
    ase.io.write(work / "val.xyz", frames[16:])
    config = training_config(
        work / "train.xyz", work / "val.xyz", r_max=4.0, l_max=1, num_features=8, max_epochs=2
    )
    config["model_type_names"] = ["Cu", "Au"]
    config["training_module"]["model"]["model_dtype"] = "float64"
    run = train(config, work / "run")
    zip_path = package(run.best_checkpoint, work / "tiny.nequip.zip")
    cache = os.environ.get("TORCHINDUCTOR_CACHE_DIR", work / "inductor")  # ~300 MB compiler cache
    pt2_path = compile_model(zip_path, work / "tiny.nequip.pt2", cache_dir=cache)
    return {"nequip-checkpoint": run.best_checkpoint, "nequip-package": zip_path, "nequip-aotinductor": pt2_path}


@pytest.mark.slow
def test_current_nequip_formats_agree(nequip_files):
    atoms = _emt_frames(1, seed=5)[0]
    results = {}
    for fmt, path in nequip_files.items():
        meta = read_model_metadata(path)
        assert meta.format == fmt and meta.type_names == ("Cu", "Au") and meta.r_max == 4.0
        assert meta.dtype == "float64"
        calc = load_potential(path, device="cpu")
        probe = atoms.copy()
        probe.calc = calc
        results[fmt] = (probe.get_potential_energy(), probe.get_forces(), probe.get_stress())
        with pytest.raises(UnknownSpeciesError, match="Zn"):
            _energy(calc, toy_zif_cell())
        with pytest.raises(StructureError, match="periodic"):
            probe.pbc = False
            probe.get_potential_energy()
    reference = results["nequip-package"]
    for energy, forces, stress in results.values():
        assert energy == pytest.approx(reference[0], abs=1e-8)
        assert np.allclose(forces, reference[1], atol=1e-8) and np.allclose(stress, reference[2], atol=1e-9)


@pytest.mark.slow
def test_current_format_refuses_cast(nequip_files):
    with pytest.raises(ModelError, match="runs in its own float64"):
        load_potential(nequip_files["nequip-package"], device="cpu", dtype="float32")


@pytest.mark.slow
class TestNequIPPackageConformance(CalculatorConformance):
    """The conformance mixin on a nequip 0.19 float64 package (EMT Cu/Au, 32 atoms)."""

    nve_max_frequency = 250.0

    @pytest.fixture
    def calculator(self, nequip_files):
        return load_potential(nequip_files["nequip-package"], device="cpu")

    @pytest.fixture
    def structure(self):
        return _emt_frames(1, seed=9)[0]


# --- what the model outputs: stress or not, finite or not -----------------------------------


def test_model_without_stress_declares_no_stress(tmp_path):
    from ase.calculators.calculator import PropertyNotImplementedError

    calc = load_potential(write_toy_legacy_model(tmp_path / "nostress.pth", stress=False), device="cpu")
    assert "stress" not in calc.implemented_properties
    assert calc.metadata.outputs == ("forces",)
    atoms = toy_zif_cell()
    atoms.calc = calc
    assert atoms.get_potential_energy() == pytest.approx(toy_pair_energy(atoms, r_max=4.0), abs=1e-10)
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()
    # the class attribute is not changed for other instances (the toy with stress)
    assert "stress" in load_potential(write_toy_legacy_model(tmp_path / "s.pth"), device="cpu").implemented_properties


def test_md_runs_a_model_without_stress(tmp_path):
    import csv

    from aseml_zif.md import Stage, run

    calc = load_potential(write_toy_legacy_model(tmp_path / "nostress.pth", stress=False), device="cpu")
    atoms = toy_zif_cell()
    atoms.set_masses([30.0] * len(atoms))
    run(atoms, calc, [Stage("nvt", 0.01, 300.0)], tmp_path / "md", timestep_fs=0.5, save_every=5,
        checkpoint_every=10, log_every=5, seed=1, watchdog=False, progress=False)
    with open(tmp_path / "md" / "thermo.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 2
    pressure = [k for k in rows[0] if k.lower().startswith("pressure")]
    assert pressure and all(np.isnan(float(r[pressure[0]])) for r in rows)


class _NaNModel:
    """A 'deployed model' whose ``output`` is NaN at ``index`` (by default forces on atom 2)."""

    def __init__(self, calc, output="forces", index=(2, 1)):
        self.inner, self.output, self.index = calc.model, output, index

    def __call__(self, inputs):
        out = dict(self.inner(inputs))
        values = out[self.output].clone()
        values[self.index] = float("nan")
        out[self.output] = values
        return out

    def to(self, **kwargs):
        return self

    def eval(self):
        return self


def test_non_finite_model_output_is_a_model_error_naming_the_atom(toy):
    calc = DeployedModelCalculator(_NaNModel(toy), toy.metadata, device="cpu")
    atoms = toy_zif_cell()
    atoms.calc = calc
    with pytest.raises(ModelError, match=r"non-finite force on 1 atom\(s\): 2 \(N\)"):
        atoms.get_forces()


@pytest.mark.parametrize("index", [(0, 1, 1), (0, 2, 1)])  # yy (Voigt), zy (not Voigt)
def test_non_finite_stress_component_is_a_model_error(toy, index):
    calc = DeployedModelCalculator(_NaNModel(toy, "stress", index), toy.metadata, device="cpu")
    atoms = toy_zif_cell()
    atoms.calc = calc
    with pytest.raises(ModelError, match="non-finite stress"):
        atoms.get_stress()


def test_non_finite_positions_are_a_structure_error_naming_the_atom(toy):
    atoms = toy_zif_cell()
    atoms.positions[5, 0] = np.nan
    with pytest.raises(StructureError, match="5"):
        _energy(toy, atoms)
