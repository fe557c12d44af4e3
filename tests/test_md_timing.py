"""The speed of a run measured inside it: every invocation of ``run`` that steps appends to
``timing.jsonl`` its steps, their wall time and the model's own calls and time in those steps
(toy legacy model, whose calculator counts; EMT, which does not)."""
import json

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from aseml_zif.calculator import load_potential
from aseml_zif.errors import ModelError
from aseml_zif.md import RUN_FILES, Stage, run
from aseml_zif.md.timing import format_speed, read_timing, speed, timing_summary
from aseml_zif.testing.toy_model import toy_zif_cell, write_toy_legacy_model

STAGE = Stage("nvt", 0.02, 300)  # 40 steps of 0.5 fs


@pytest.fixture(scope="module")
def toy_path(tmp_path_factory):
    return write_toy_legacy_model(tmp_path_factory.mktemp("toy") / "toy.pth")


def _run(atoms, calc, workdir):
    return run(atoms, calc, [STAGE], workdir, timestep_fs=0.5, save_every=10, checkpoint_every=10,
               watchdog=False, seed=0, progress=False)


def _check_record(record):
    assert record["steps"] == record["last_step"] - record["first_step"] > 0
    assert 0 < record["model_s"] < record["wall_s"]
    assert record["steps_per_s"] == pytest.approx(record["steps"] / record["wall_s"])
    assert record["ms_per_step"] == pytest.approx(1e3 * record["wall_s"] / record["steps"])
    assert record["model_ms_per_call"] == pytest.approx(1e3 * record["model_s"] / record["model_calls"])
    assert record["md_overhead_percent"] == pytest.approx(
        100 * (record["wall_s"] - record["model_s"]) / record["model_s"])


def test_a_run_records_its_steps_and_the_models_time_in_them(toy_path, tmp_path):
    calc = load_potential(toy_path, device="cpu")
    atoms = toy_zif_cell().repeat(2)
    _run(atoms, calc, tmp_path)
    (record,) = read_timing(tmp_path / RUN_FILES["timing"])
    _check_record(record)
    assert (record["first_step"], record["last_step"]) == (0, 40)
    # one force evaluation per step; the one of the start, before the loop, is not counted
    assert record["model_calls"] == 40 and calc.model_calls == 41
    assert "steps/s" in format_speed(record) and "model" in format_speed(record)

    _run(atoms, calc, tmp_path)  # finished already: no steps, no record
    assert len(read_timing(tmp_path / RUN_FILES["timing"])) == 1


def test_a_stopped_run_records_its_steps_and_the_resume_adds_a_record(toy_path, tmp_path):
    calc = load_potential(toy_path, device="cpu")
    model, calls = calc.model, []

    def failing(inputs):
        calls.append(1)
        if len(calls) == 26:
            raise RuntimeError("out of memory")
        return model(inputs)

    calc.model = failing
    atoms = toy_zif_cell().repeat(2)
    with pytest.raises(ModelError, match="step 25"):
        _run(atoms, calc, tmp_path)
    calc.model = model
    _run(atoms, calc, tmp_path)  # resumes from the checkpoint of step 20
    first, second = read_timing(tmp_path / RUN_FILES["timing"])
    assert (first["first_step"], first["last_step"], first["model_calls"]) == (0, 25, 24)
    assert (second["first_step"], second["last_step"]) == (20, 40)
    for record in (first, second):
        _check_record(record)
    total = timing_summary([first, second])
    assert total["invocations"] == 2 and total["steps"] == 45
    assert total["model_calls"] == first["model_calls"] + second["model_calls"]
    assert total["wall_s"] == pytest.approx(first["wall_s"] + second["wall_s"])


def test_a_calculator_that_does_not_count_leaves_the_model_fields_empty(tmp_path):
    atoms = bulk("Cu", cubic=True).repeat(2)
    _run(atoms, EMT(), tmp_path)
    (record,) = read_timing(tmp_path / RUN_FILES["timing"])
    assert record["steps"] == 40 and record["steps_per_s"] > 0
    assert record["model_calls"] is record["model_s"] is record["md_overhead_percent"] is None
    assert "not measured" in format_speed(record)
    assert timing_summary([record])["model_ms_per_call"] is None


def test_speed_and_its_line():
    record = speed(1000, 10.0, 1001, 8.0)
    assert record["steps_per_s"] == 100.0 and record["ms_per_step"] == 10.0
    assert record["model_ms_per_call"] == pytest.approx(8.0 / 1.001)
    assert record["md_overhead_percent"] == pytest.approx(25.0)
    assert format_speed(record) == ("100.0 steps/s (10.00 ms/step), model 7.99 ms/call "
                                    "(1001 calls), MD overhead 25.0 %")
    assert speed(0, 0.0)["steps_per_s"] is None and timing_summary([]) is None


def test_a_line_cut_short_is_left_out(tmp_path):
    path = tmp_path / "timing.jsonl"
    path.write_text(json.dumps(speed(10, 1.0)) + "\n" + '{"steps": 3, "wal')
    assert [r["steps"] for r in read_timing(path)] == [10]
