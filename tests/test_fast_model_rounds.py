"""The committed rounds of the fast student (``data/fast_model``): the latest package and the
shipped ``"fast"`` model reproduce the accuracy against the paper's model that their cards quote
on the committed held-out frames, and their forces are the gradient of their energy (finite
differences)."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "fast_model"
LATEST_ROUND = 16
#: round of the model ``load_potential("fast")`` ships (``aseml_zif.calculator.FAST_MODEL``)
SHIPPED_ROUND = 10


def frames_module():
    spec = importlib.util.spec_from_file_location("fast_model_frames",
                                                  ROOT / "examples" / "fast_model_frames.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", params=[LATEST_ROUND, "fast"])
def student(request):
    """(round, calculator) of the latest round's package and of the shipped "fast" model."""
    import aseml_zif

    if request.param == "fast":
        return SHIPPED_ROUND, aseml_zif.load_potential("fast", device="cpu")
    path = DATA / f"round{request.param}" / f"zif4_fast_r{request.param}.nequip.zip"
    return request.param, aseml_zif.load_potential(path, device="cpu")


def test_fast_is_the_shipped_round():
    from aseml_zif.calculator.loading import resolve_path

    assert resolve_path("fast").samefile(DATA / f"round{SHIPPED_ROUND}" /
                                         f"zif4_fast_r{SHIPPED_ROUND}.nequip.zip")


@pytest.fixture(scope="module")
def held_out():
    rows = frames_module().unpack_frames(DATA / "frames.npz")
    return {name: [f for n, f in rows if n == name]
            for name in ("test_cold_labelled", "test_hot_labelled")}


@pytest.mark.parametrize("name", ["test_cold_labelled", "test_hot_labelled"])
def test_student_reproduces_its_recorded_accuracy(student, held_out, name):
    from aseml_zif.training import evaluate

    round_, calc = student
    recorded = json.loads((DATA / f"round{round_}" / "accuracy.json").read_text())[
        f"fast_r{round_}"][name]
    got = evaluate(calc, held_out[name], progress=False)
    assert got["n_frames"] == recorded["n_frames"]
    for key in ("force_mae_meV_per_A", "energy_mae_meV_per_atom", "stress_mae_MPa"):
        assert got[key] == pytest.approx(recorded[key], rel=0.01), key


def test_student_forces_are_minus_the_energy_gradient(student, held_out):
    from aseml_zif.testing.conformance import check_forces_are_energy_gradient

    # a 1500 K frame; float32 model: central differences good to a few 1e-2 eV/Å at 1e-3 Å
    check_forces_are_energy_gradient(student[1], held_out["test_hot_labelled"][0], step=1e-3,
                                     atol=0.05, n_components=12)
