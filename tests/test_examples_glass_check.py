"""examples/glass_check.py: speed bookkeeping of the melt-quench invocations, the glass criteria
on the published ab initio glasses and crystal, and short smoke runs of every subcommand."""
import contextlib
import importlib.util
import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from test_examples import needs_demo_model

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "glass_check.py"
#: a melt-quench of a few dozen steps (the issue's command with these appended)
SHORT = "--t-max 400 --rate 100000 --plateau-ps 0.003 --equilibrate-ps 0.008 --save-every 4 --checkpoint-every 8"


def load_script():
    spec = importlib.util.spec_from_file_location("glass_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(*args):
    """``glass_check.py ARGS`` in this process (the melt-quench itself is still a subprocess);
    returns what it printed."""
    from conftest import SHARED

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        load_script().main(["--shared", str(SHARED), *map(str, args)])
    return out.getvalue()


def write_fake_run(workdir, steps_logged, total_steps=1000):
    """run.json of a one-stage run of ``total_steps`` and a thermo.csv logged at ``steps_logged``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "run.json").write_text(json.dumps(
        {"timestep_fs": 0.5, "stages": [{"duration_ps": total_steps * 0.5e-3, "name": "nvt"}]}))
    rows = "".join(f"{s},{s * 0.5},nvt\n" for s in steps_logged)
    (workdir / "thermo.csv").write_text("step,time_fs,stage\n" + rows)


FAKE_MD = """
import sys, time
from pathlib import Path
from aseml_zif.md.timing import StepClock
class Calculator:  # counts as DeployedModelCalculator does
    model_calls, model_time_s = 0, 0.0
calc = Calculator()
first, last = int(sys.argv[2]), int(sys.argv[3])
clock = StepClock(calc, first - 100)
with open(Path(sys.argv[1]) / "thermo.csv", "a") as fh:
    for step in range(first, last + 1, 100):
        fh.write(f"{step},{step * 0.5},nvt\\n")
time.sleep(0.2)
calc.model_calls, calc.model_time_s = 101, 0.1  # 0.1 s of it in 101 model calls
clock.append(Path(sys.argv[1]) / "timing.jsonl", last)
if len(sys.argv) > 4:
    print("aseml-zif: error: watchdog at step 650 (stage 'nvt'): broken linker", file=sys.stderr)
    sys.exit(2)
"""


def test_speed_bookkeeping_of_a_fake_run(tmp_path):
    gc = load_script()
    workdir = tmp_path / "seed0"
    write_fake_run(workdir, [0, 100, 200])
    first = gc.invoke([sys.executable, "-c", FAKE_MD, str(workdir), "300", "600", "stop"], workdir,
                      dict(os.environ))
    assert (first["steps_before"], first["steps_after"], first["steps_done"]) == (200, 600, 400)
    assert first["returncode"] == 2 and "watchdog at step 650" in first["watchdog_stop"]
    assert first["wall_s"] >= 0.2 and not first["finished"]
    second = gc.invoke([sys.executable, "-c", FAKE_MD, str(workdir), "700", "1000"], workdir,
                       dict(os.environ))
    assert second["steps_done"] == 400 and second["finished"] and second["watchdog_stop"] is None
    assert "watchdog at step 650" in (workdir / "meltquench.log").read_text()  # stderr is kept

    assert first["timing"]["steps"] == 400 and first["timing"]["model_calls"] == 101

    speed = gc.speed_summary([first, second])
    wall = first["wall_s"] + second["wall_s"]
    assert speed["total_wall_s"] == pytest.approx(wall) and speed["total_steps"] == 800
    in_run = speed["in_run"]  # what the runs measured in their steps
    assert in_run["invocations"] == 2 and in_run["steps"] == 800 and in_run["model_calls"] == 202
    in_run_wall = first["timing"]["wall_s"] + second["timing"]["wall_s"]
    assert in_run["wall_s"] == pytest.approx(in_run_wall) and 0.4 <= in_run_wall < wall
    assert in_run["steps_per_s"] == pytest.approx(800 / in_run_wall)
    assert in_run["md_overhead_percent"] == pytest.approx(100 * (in_run_wall - 0.2) / 0.2)
    assert "650" in speed["watchdog_stop"]
    assert gc.speed_summary([])["in_run"] is None
    assert gc.speed_cell(None, "steps_per_s", ".2f") == gc.speed_cell(in_run, "nothing", ".1f") == "-"


def test_watchdog_stop_read_from_the_snapshot(tmp_path):
    """Without the CLI message, the snapshot the run leaves names the watchdog."""
    from ase.build import bulk
    from ase.io import write

    from aseml_zif.md.results import run_status

    gc = load_script()
    write_fake_run(tmp_path, [0, 100])
    snapshot = bulk("Cu", cubic=True)
    snapshot.info.update(step=150, watchdog="watchdog at step 150: atoms 0 and 1 at 0.3 Å")
    write(tmp_path / "watchdog_snapshot.traj", snapshot)
    status = run_status(tmp_path)
    assert status["total_steps"] == 1000 and status["step"] == 100 and not status["finished"]
    assert "0.3 Å" in gc.watchdog_stop("", status)
    assert gc.watchdog_stop("ordinary progress output", {"stopped": "error: model failed"}) is None


def test_glass_module_reexports_the_run_readers_and_profiles():
    """aseml_zif.analysis.glass still gives the names that moved to md.results and glass_figure."""
    from aseml_zif.analysis import glass, glass_figure
    from aseml_zif.md import results

    assert (glass.run_status, glass.run_frames) == (results.run_status, results.run_frames)
    assert glass.structure_profiles is glass_figure.structure_profiles
    assert glass.plot_profiles is glass_figure.plot_profiles


def test_set_threads_sets_torch_and_the_subprocess_environment(monkeypatch):
    """``--threads N``: torch here (aseml_zif.cli.common.apply_threads) and OMP/MKL/OpenBLAS of
    the children; 0 changes neither."""
    import torch

    gc = load_script()
    saved = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    try:
        torch.set_num_threads(2)
        env = gc.set_threads(0)
        assert torch.get_num_threads() == 2 and env["OMP_NUM_THREADS"] == "2"
        env = gc.set_threads(1)
        assert torch.get_num_threads() == 1
        assert all(env[name] == "1" for name in gc.THREAD_VARIABLES)
        assert os.environ["OMP_NUM_THREADS"] == "2"  # only the children's copy
    finally:
        torch.set_num_threads(saved)


@pytest.fixture(scope="module")
def meltquench_run(tmp_path_factory):
    """A melt-quench of 34 steps with the demo model, run twice (the second resumes: nothing to do)."""
    from test_examples import demo_model_available

    if not demo_model_available():
        return None
    out = tmp_path_factory.mktemp("mq")
    args = ("meltquench", "--model", "demo", "--seeds", "0", "--out", out, "--extra-args", SHORT)
    first = run_script(*args)
    second = run_script(*args)
    return out / "seed0", first, second


@needs_demo_model
def test_meltquench_smoke(meltquench_run):
    from aseml_zif.md.results import run_status

    workdir, first, second = meltquench_run
    speed = json.loads((workdir / "speed.json").read_text())
    (invocation,) = speed["invocations"]  # the rerun found the run finished
    status = run_status(workdir)
    assert status["finished"] and speed["finished"]
    assert invocation["command"].split(" meltquench ", 1)[1].startswith(
        f"crystal --model demo --equilibrate-ps 10 --seed 0 --workdir {workdir} ")
    assert invocation["steps_done"] == status["total_steps"] == speed["total_steps"]
    assert invocation["returncode"] == 0 and invocation["watchdog_stop"] is None
    in_run = speed["in_run"]  # measured by the run, model calls within its steps
    assert in_run["steps"] == in_run["model_calls"] == status["total_steps"]
    assert in_run["wall_s"] < invocation["wall_s"] and 0 < in_run["model_s"] < in_run["wall_s"]
    assert in_run == {"invocations": 1, **{k: v for k, v in invocation["timing"].items()
                                           if k not in ("first_step", "last_step")}}
    row = next(line for line in first.splitlines() if line.startswith("0 "))
    assert f"{in_run['steps_per_s']:.2f}" in row and f"{in_run['model_ms_per_call']:.2f}" in row
    assert "MD overhead %" in first and "finished already" in second
    for name in ("trajectory.traj", "thermo.csv", "timing.jsonl", "final.extxyz", "results.json"):
        assert (workdir / name).is_file()


@pytest.fixture(scope="module")
def criteria(tmp_path_factory, glass_paths, crystal_lmp, meltquench_run):
    """criteria on the short run (when the demo model is there) and the shared crystal file."""
    from conftest import CRYSTAL_LMP

    out = tmp_path_factory.mktemp("criteria")
    runs = ([meltquench_run[0]] if meltquench_run else []) + [CRYSTAL_LMP]
    stdout = run_script("criteria", *runs, "--out", out / "criteria.json")
    return json.loads((out / "criteria.json").read_text()), stdout


def test_criteria_on_the_abinitio_glasses_and_the_crystal(criteria):
    data, stdout = criteria
    glasses = [e for e in data["reference"] if e["reference"]]
    assert len(glasses) == 10
    for entry in glasses:  # the paper's glasses meet its bars on CN, linkers and angles
        v = entry["values"]
        assert 3.875 - 1e-9 <= v["cn"] <= 4.0 + 1e-9, entry["name"]
        assert v["linkers_intact_min"] == v["linkers_expected"] == 32, entry["name"]
        assert abs(v["angle_deg"] - 109.5) <= 1.5, entry["name"]
        assert entry["verdict"]["cn"] and entry["verdict"]["linkers"] and entry["verdict"]["angle"]
    assert any(not e["values"]["rings_like_crystal"] for e in glasses)
    assert np.mean([e["values"]["cn"] for e in glasses]) < 4.0  # some Zn lost an N

    (crystal,) = [e for e in data["runs"] if e["name"] == "zif4_crystal"]
    v = crystal["values"]
    assert v["rings_per_cell"] == {"8": 4.0, "12": 16.0, "16": 32.0} and v["rings_like_crystal"]
    assert not crystal["verdict"]["rings"] and not crystal["verdict"]["glass"]
    assert v["cn"] == 4.0 and v["linkers_intact_min"] == 32
    assert "still crystal" in stdout and "ZIF4_15glass10" in stdout

    ref = sorted(e["values"]["xray"]["r_w_dr"] for e in glasses)
    summary = data["abinitio_r_w_dr"]
    assert (summary["min"], summary["max"]) == (ref[0], ref[-1]) and 0 < ref[0] < ref[-1]
    assert crystal["verdict"]["xray"] == (v["xray"]["r_w_dr"] <= ref[-1])


@needs_demo_model
def test_criteria_on_a_run_that_never_melted(criteria, meltquench_run):
    """34 steps below 400 K leave the crystal: judged on its final-stage frames, cached."""
    from ase.io import read

    workdir = meltquench_run[0]
    data, _ = criteria
    (entry,) = [e for e in data["runs"] if e["name"] == "seed0"]
    frames = read(workdir / "trajectory.traj", ":")
    steps = [a.info["step"] for a in frames if a.info["stage"] == "equilibrate"]
    assert entry["source"]["stage"] == "equilibrate" and entry["source"]["steps"] == steps
    assert entry["values"]["n_frames"] == len(steps) >= 2
    assert entry["values"]["rings_like_crystal"] and not entry["verdict"]["glass"]
    cached = json.loads((workdir / "glass_criteria.json").read_text())
    assert cached["values"] == entry["values"]


@needs_demo_model
def test_validate300_smoke(tmp_path, glass_paths):
    from aseml_zif.analysis import Coordination
    from aseml_zif.io import read_structure

    args = ("validate300", "--model", "demo", "--out", tmp_path, "--time-ps", "0.004",
            "--save-every", "4", "--limit", "1")
    stdout = run_script(*args)
    data = json.loads((tmp_path / "validate300.json").read_text())
    (entry,) = data["glasses"]
    assert entry["glass"] == glass_paths[0].stem and entry["n_frames_compared"] == 3
    assert entry["cn_before"] == Coordination().compute(read_structure(glass_paths[0])).mean
    assert entry["cn_changed"] == any(c != entry["cn_before"] for c in entry["cn_after"])
    assert entry["rings_changed"] == any(r != entry["rings_before"] for r in entry["rings_after"])
    assert isinstance(entry["zn_n_changes"], list)  # 2 fs: a bond near 2.5 Å may flicker
    assert all(c["lasting_from_step"] in (0, 4, 8) for c in entry["zn_n_changes"])
    assert "CN before" in stdout and "lasting Zn-N changes" in stdout
    again = run_script(*args)  # the finished run is only read again
    assert "finished already" in again and json.loads((tmp_path / "validate300.json").read_text()) == data
    with pytest.raises(SystemExit, match="holds a run of other stages"):  # another --time-ps
        run_script(*args[:-6], "--time-ps", "0.002", *args[-4:])


@needs_demo_model
def test_validate300_runs_the_glasses_named_in_their_order(tmp_path, glass_paths):
    args = ("validate300", "--model", "demo", "--out", tmp_path, "--time-ps", "0.001",
            "--save-every", "1")
    run_script(*args, "--glasses", glass_paths[3].stem, glass_paths[1].stem)
    data = json.loads((tmp_path / "validate300.json").read_text())
    assert [e["glass"] for e in data["glasses"]] == [glass_paths[3].stem, glass_paths[1].stem]
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == sorted(
        [glass_paths[1].stem, glass_paths[3].stem])
    with pytest.raises(SystemExit, match="--glasses: no ZIF4_15glass99 in"):
        run_script(*args, "--glasses", glass_paths[0].stem, "ZIF4_15glass99")
    assert not (tmp_path / glass_paths[0].stem).exists()  # nothing ran


def test_figure(tmp_path, glass_paths, crystal_lmp):
    from conftest import CRYSTAL_LMP

    stdout = run_script("figure", CRYSTAL_LMP, "--out", tmp_path / "fig.png")
    assert "wrote" in stdout and (tmp_path / "fig.png").stat().st_size > 10_000


def test_subcommands_skip_without_the_shared_data(tmp_path, capsys):
    gc = load_script()
    for args in (("figure", "--out", tmp_path / "fig.png"),
                 ("validate300", "--model", "demo", "--out", tmp_path / "val")):
        gc.main(["--shared", str(tmp_path / "nothing_here"), *map(str, args)])
        stdout = capsys.readouterr().out
        assert "skipped" in stdout and "ASEML_ZIF_SHARED_DATA" in stdout
    assert not (tmp_path / "fig.png").exists() and not (tmp_path / "val").exists()
