"""The run knows its potential: ``run.json`` records it (atomically), a resume with another
potential is refused unless asked for, and constant-pressure stages need a potential with stress."""
import hashlib
import json
import os
from types import SimpleNamespace

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones

from aseml_zif.errors import ModelError
from aseml_zif.md import RUN_FILES, CheckpointError, Stage, run
from aseml_zif.md.checkpoint import read_checkpoint
from crashing import Crashing

STAGES = [Stage("nvt", 0.030, 300)]
SETTINGS = dict(timestep_fs=1.0, save_every=5, checkpoint_every=10, seed=1, progress=False)


def _copper():
    return bulk("Cu", cubic=True).repeat((2, 2, 2))


def _settings(workdir):
    return json.loads((workdir / RUN_FILES["settings"]).read_text())


class ModelFileEMT(EMT):
    """EMT posing as a deployed model: a ``metadata`` like DeployedModelCalculator's."""

    def __init__(self, path, r_max=6.0, fmt="legacy-torchscript", converted_from=None,
                 compiled_from=None):
        super().__init__()
        self.metadata = SimpleNamespace(path=path, format=fmt,
                                        type_names=("H", "C", "N", "Zn"), r_max=r_max,
                                        dtype="float32", converted_from=converted_from,
                                        compiled_from=compiled_from)


class CrashingEMT(Crashing, EMT):
    """EMT that raises on its ``crash_at``-th evaluation (a crash between checkpoints)."""


def test_run_json_records_a_plain_calculator_by_class(tmp_path):
    run(_copper(), EMT(), STAGES, tmp_path, **SETTINGS)
    assert _settings(tmp_path)["potential"] == {"calculator": "EMT"}


def test_run_json_records_a_model_file_and_its_hash(tmp_path):
    model = tmp_path / "model.pth"
    model.write_bytes(b"weights v1")
    run(_copper(), ModelFileEMT(model), STAGES, tmp_path / "run", **SETTINGS)
    assert _settings(tmp_path / "run")["potential"] == {
        "calculator": "ModelFileEMT",
        "file": str(model.resolve()),
        "sha256": hashlib.sha256(b"weights v1").hexdigest(),
        "format": "legacy-torchscript",
        "type_names": ["H", "C", "N", "Zn"],
        "r_max": 6.0,
        "dtype": "float32",
        "source_sha256": hashlib.sha256(b"weights v1").hexdigest(),
    }
    # the same file moved elsewhere is the same potential; other content under the same name is not
    moved = tmp_path / "elsewhere" / "model.pth"
    moved.parent.mkdir()
    model.rename(moved)
    run(_copper(), ModelFileEMT(moved), STAGES, tmp_path / "run", **SETTINGS)
    moved.write_bytes(b"weights v2")
    with pytest.raises(CheckpointError) as info:
        run(_copper(), ModelFileEMT(moved), STAGES, tmp_path / "run", **SETTINGS)
    message = str(info.value)
    assert hashlib.sha256(b"weights v1").hexdigest()[:12] in message
    assert hashlib.sha256(b"weights v2").hexdigest()[:12] in message
    assert "differ in source_sha256" in message
    moved.write_bytes(b"weights v1")
    with pytest.raises(CheckpointError, match=r"differ in r_max\)"):
        run(_copper(), ModelFileEMT(moved, r_max=5.0), STAGES, tmp_path / "run", **SETTINGS)


def _crash_midway(calculator, workdir):
    """Run STAGES with ``calculator`` until its 18th evaluation raises; return the step kept."""
    calculate = calculator.calculate
    calls = []

    def crashing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 18:
            raise RuntimeError("simulated crash")
        calculate(*args, **kwargs)

    calculator.calculate = crashing
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(_copper(), calculator, STAGES, workdir, **SETTINGS)
    return read_checkpoint(workdir / RUN_FILES["checkpoint"])[1]["step"]


def _file(path, content):
    path.write_bytes(content)
    return path


def test_converted_or_compiled_model_of_the_same_source_continues_the_run(tmp_path):
    """The legacy file, its conversion and its AOTInductor build are one potential; a build of
    other weights is not."""
    legacy = tmp_path / "paper.pth"
    legacy.write_bytes(b"legacy weights")
    source = {"source": "paper.pth", "sha256": hashlib.sha256(b"legacy weights").hexdigest()}
    _crash_midway(ModelFileEMT(legacy), tmp_path / "run")
    compiled = tmp_path / "model.nequip.pt2"
    compiled.write_bytes(b"compiled code")
    run(_copper(), ModelFileEMT(compiled, fmt="nequip-aotinductor", converted_from=source), STAGES,
        tmp_path / "run", **SETTINGS)
    assert read_checkpoint(tmp_path / "run" / RUN_FILES["checkpoint"])[1]["step"] == 30
    other = dict(source, sha256=hashlib.sha256(b"other weights").hexdigest())
    with pytest.raises(CheckpointError, match="differ in source_sha256"):
        run(_copper(), ModelFileEMT(compiled, fmt="nequip-aotinductor", converted_from=other),
            STAGES, tmp_path / "run", **SETTINGS)


def test_builds_of_one_package_for_any_thread_count_continue_the_run(tmp_path):
    """A package and its AOTInductor builds (one per thread count, bytes differ) are one
    potential; a build of another package is not."""
    package = _file(tmp_path / "student.nequip.zip", b"package weights")
    source = {"source": package.name, "sha256": hashlib.sha256(b"package weights").hexdigest()}
    threads1 = _file(tmp_path / "threads1.nequip.pt2", b"kernels for 1 thread")
    threads2 = _file(tmp_path / "threads2.nequip.pt2", b"kernels for 2 threads")
    build = dict(fmt="nequip-aotinductor", compiled_from=source)
    first = _crash_midway(ModelFileEMT(threads2, **build), tmp_path / "run")
    assert _settings(tmp_path / "run")["potential"]["source_sha256"] == source["sha256"]
    assert _crash_midway(ModelFileEMT(threads1, **build), tmp_path / "run") > first  # resumed
    run(_copper(), ModelFileEMT(package, fmt="nequip-package"), STAGES, tmp_path / "run", **SETTINGS)
    assert read_checkpoint(tmp_path / "run" / RUN_FILES["checkpoint"])[1]["step"] == 30
    assert "earlier_potentials" not in _settings(tmp_path / "run")

    other = dict(build, compiled_from=dict(source, sha256=hashlib.sha256(b"other").hexdigest()))
    _crash_midway(ModelFileEMT(threads1, **build), tmp_path / "run2")
    with pytest.raises(CheckpointError, match="differ in source_sha256"):
        run(_copper(), ModelFileEMT(threads2, **other), STAGES, tmp_path / "run2", **SETTINGS)


def test_run_of_a_build_recorded_without_its_source_resumes_with_the_same_file(tmp_path):
    """Before builds recorded the package they came from, a run recorded the build's own hash
    as its source: the very same build file still continues it (read as the same model), and
    the record then names the package, so that builds for other thread counts continue it too."""
    threads1 = _file(tmp_path / "threads1.nequip.pt2", b"kernels for 1 thread")
    threads2 = _file(tmp_path / "threads2.nequip.pt2", b"kernels for 2 threads")
    source = {"source": "student.nequip.zip", "sha256": hashlib.sha256(b"package").hexdigest()}
    workdir = tmp_path / "run"
    first = _crash_midway(ModelFileEMT(threads1, fmt="nequip-aotinductor"), workdir)
    build = dict(fmt="nequip-aotinductor", compiled_from=source)
    with pytest.raises(CheckpointError, match="differ in source_sha256"):
        run(_copper(), ModelFileEMT(threads2, **build), STAGES, workdir, **SETTINGS)
    with pytest.raises(CheckpointError, match="r_max"):
        run(_copper(), ModelFileEMT(threads1, r_max=5.0, **build), STAGES, workdir, **SETTINGS)
    assert _crash_midway(ModelFileEMT(threads1, **build), workdir) > first  # resumed
    assert _settings(workdir)["potential"]["source_sha256"] == source["sha256"]
    assert "earlier_potentials" not in _settings(workdir)
    run(_copper(), ModelFileEMT(threads2, **build), STAGES, workdir, **SETTINGS)
    assert read_checkpoint(workdir / RUN_FILES["checkpoint"])[1]["step"] == 30


def test_resume_with_another_potential_names_both_and_override_continues(tmp_path):
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(_copper(), CrashingEMT(crash_at=18), STAGES, tmp_path, **SETTINGS)
    stopped_at = read_checkpoint(tmp_path / RUN_FILES["checkpoint"])[1]["step"]
    assert 0 < stopped_at < 30
    lj = LennardJones(sigma=2.3, epsilon=0.4, rc=5.0)
    with pytest.raises(CheckpointError) as info:
        run(_copper(), lj, STAGES, tmp_path, **SETTINGS)
    message = str(info.value)
    assert "CrashingEMT" in message and "LennardJones" in message
    assert "allow_other_potential=True" in message
    assert read_checkpoint(tmp_path / RUN_FILES["checkpoint"])[1]["step"] == stopped_at  # untouched

    with pytest.warns(UserWarning, match="continuing a run made with calculator CrashingEMT") as warned:
        final = run(_copper(), lj, STAGES, tmp_path, allow_other_potential=True, **SETTINGS)
    assert warned[0].filename == __file__  # points at the caller
    assert read_checkpoint(tmp_path / RUN_FILES["checkpoint"])[1]["step"] == 30
    assert np.all(np.isfinite(final.positions))
    settings = _settings(tmp_path)
    assert settings["potential"] == {"calculator": "LennardJones"}
    assert settings["earlier_potentials"] == [{"calculator": "CrashingEMT"}]
    run(_copper(), lj, STAGES, tmp_path, **SETTINGS)  # now the recorded one: no override needed


def test_run_json_of_an_older_version_gets_the_potential_recorded(tmp_path):
    run(_copper(), EMT(), STAGES, tmp_path, **SETTINGS)
    settings = _settings(tmp_path)
    del settings["potential"]
    (tmp_path / RUN_FILES["settings"]).write_text(json.dumps(settings))
    with pytest.warns(UserWarning, match="records no potential"):
        run(_copper(), EMT(), STAGES, tmp_path, **SETTINGS)
    assert _settings(tmp_path)["potential"] == {"calculator": "EMT"}


def _power_cut(fd):
    raise OSError("power cut while writing")


def test_run_json_is_written_atomically(tmp_path, monkeypatch):
    path = tmp_path / RUN_FILES["settings"]
    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", _power_cut)  # the first write of run.json dies before its rename
        with pytest.raises(OSError, match="power cut"):
            run(_copper(), EMT(), STAGES, tmp_path, **SETTINGS)
    assert not path.exists()  # no run.json rather than a partial one
    run(_copper(), EMT(), STAGES, tmp_path, **SETTINGS)  # the rerun starts afresh
    before = path.read_bytes()
    monkeypatch.setattr(os, "fsync", _power_cut)  # now its rewrite (other potential) dies
    with pytest.raises(OSError, match="power cut"), pytest.warns(UserWarning):
        run(_copper(), LennardJones(), STAGES, tmp_path, allow_other_potential=True, **SETTINGS)
    assert path.read_bytes() == before


def test_corrupt_run_json_is_a_checkpoint_error(tmp_path):
    run(_copper(), EMT(), STAGES, tmp_path, **SETTINGS)
    path = tmp_path / RUN_FILES["settings"]
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(CheckpointError, match="run.json: unreadable run settings"):
        run(_copper(), EMT(), STAGES, tmp_path, **SETTINGS)


class NoStressLJ(LennardJones):
    implemented_properties = ["energy", "free_energy", "energies", "forces"]


def test_npt_stage_without_stress_is_refused_before_any_step(tmp_path):
    stages = [Stage("nvt", 0.01, 300, name="warm"), Stage("npt", 0.01, 300, pressure_GPa=0.0, name="press")]
    with pytest.raises(ModelError, match="'press' run at constant pressure.*NoStressLJ has no stress"):
        run(_copper(), NoStressLJ(), stages, tmp_path / "run", **SETTINGS)
    assert not (tmp_path / "run").exists()
