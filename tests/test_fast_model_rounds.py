"""The committed rounds of the fast student (``data/fast_model``): the latest package reproduces
the accuracy its card quotes on the committed held-out frames, and its forces are the gradient
of its energy (finite differences)."""
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "fast_model"
LATEST_ROUND = 12
LATEST = DATA / f"round{LATEST_ROUND}" / f"zif4_fast_r{LATEST_ROUND}.nequip.zip"


def frames_module():
    spec = importlib.util.spec_from_file_location("fast_model_frames",
                                                  ROOT / "examples" / "fast_model_frames.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def latest():
    import aseml_zif

    return aseml_zif.load_potential(LATEST, device="cpu")


@pytest.fixture(scope="module")
def held_out():
    rows = frames_module().unpack_frames(DATA / "frames.npz")
    return {name: [f for n, f in rows if n == name]
            for name in ("test_cold_labelled", "test_hot_labelled")}


@pytest.mark.parametrize("name", ["test_cold_labelled", "test_hot_labelled"])
def test_latest_round_reproduces_its_recorded_accuracy(latest, held_out, name):
    from aseml_zif.training import evaluate

    recorded = json.loads((DATA / f"round{LATEST_ROUND}" / "accuracy.json").read_text())[
        f"fast_r{LATEST_ROUND}"][name]
    got = evaluate(latest, held_out[name], progress=False)
    assert got["n_frames"] == recorded["n_frames"]
    for key in ("force_mae_meV_per_A", "energy_mae_meV_per_atom", "stress_mae_MPa"):
        assert got[key] == pytest.approx(recorded[key], rel=0.01), key


def test_latest_round_forces_are_minus_the_energy_gradient(latest, held_out):
    from aseml_zif.testing.conformance import check_forces_are_energy_gradient

    # a 1500 K frame; float32 model: central differences good to a few 1e-2 eV/Å at 1e-3 Å
    check_forces_are_energy_gradient(latest, held_out["test_hot_labelled"][0], step=1e-3,
                                     atol=0.05, n_components=12)
