"""Reading a run folder back: cells of the saved frames, and the drift of the Nosé–Hoover conserved
quantity per constant-temperature segment (a ramp or a change of target changes that quantity by
far more than it drifts, so a drift taken across them says nothing about the integration)."""
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import read

from aseml_zif.cli.md import thermo_summary
from aseml_zif.errors import StructureError
from aseml_zif.md import RUN_FILES, CheckpointError, Stage, run
from aseml_zif.md.results import (
    conserved_energy_drifts,
    constant_temperature_segments,
    read_cells,
    read_thermo,
    run_frames,
)

# ramp, plateau handed over by the ramp (same integrator, already at 300 K), then a jump of the
# target to 600 K in the same integrator: its first row still has the 300 K thermostat energy
STAGES = [
    Stage("nvt", 0.1, (100, 300), name="heat"),
    Stage("nvt", 0.1, 300, name="hold"),
    Stage("nvt", 0.1, 600, name="jump"),
]
TIMESTEP_FS = 2.0


@pytest.fixture(scope="module")
def ramp_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ramp")
    atoms = bulk("Cu", cubic=True).repeat(2)
    atoms.rattle(0.02, seed=1)
    run(atoms, EMT(), STAGES, workdir, timestep_fs=TIMESTEP_FS, save_every=10, log_every=5,
        checkpoint_every=100, seed=1, progress=False)
    return workdir


def test_drift_is_reported_per_constant_temperature_segment(ramp_run):
    thermo = read_thermo(ramp_run / RUN_FILES["thermo"])
    drifts = conserved_energy_drifts(thermo, STAGES, TIMESTEP_FS)
    assert [d["stages"] for d in drifts] == [["hold"], ["jump"]]  # the ramp is no segment
    assert [(d["first_step"], d["last_step"]) for d in drifts] == [(50, 100), (101, 150)]
    assert [d["temperature_K"] for d in drifts] == [300.0, 600.0]
    assert drifts[1]["duration_ps"] == pytest.approx(45 * TIMESTEP_FS / 1000)  # rows 105..150
    conserved = thermo["conserved_energy_eV"]
    across = abs(conserved[-1] - conserved[0])
    worst = max(abs(d["conserved_energy_drift_eV"]) for d in drifts)
    # velocity Verlet on EMT Cu at 2 fs: drifts of 1e-4 eV per segment, while ramp and jump change
    # the conserved quantity by ~1 eV (a whole-run drift would report that)
    assert worst < 2e-3
    assert across > 100 * worst
    row = list(thermo["step"]).index(100)  # last row of 'hold', still at the old target
    assert abs(conserved[row + 1] - conserved[row]) > 100 * worst
    summary = thermo_summary(thermo, STAGES, TIMESTEP_FS)
    assert summary["conserved_energy_drift_per_segment"] == drifts


def test_segments_merge_alike_stages_and_split_at_a_new_integrator():
    stages = [
        Stage("nvt", 0.01, 300, name="a"),
        Stage("nvt", 0.02, 300, name="b"),  # same integrator and T: one segment with 'a'
        Stage("npt_langevin", 0.01, 300, pressure_GPa=0.0, name="c"),  # new integrator
        Stage("npt_langevin", 0.01, (300, 500), pressure_GPa=0.0, name="d"),  # ramp: none
        Stage("npt_langevin", 0.01, 500, pressure_GPa=0.0, name="e"),  # handed over at 500 K
    ]
    segments = constant_temperature_segments(stages, 1.0)
    assert [(s["stages"], s["first_step"], s["last_step"]) for s in segments] == [
        (["a", "b"], 0, 30), (["c"], 31, 40), (["e"], 50, 60)]
    thermo = {"step": np.arange(0, 61, 5.0),
              "conserved_energy_eV": np.r_[np.linspace(1.0, 1.1, 7), np.full(6, np.nan)]}
    drifts = conserved_energy_drifts(thermo, stages, 1.0)
    assert drifts[0]["conserved_energy_drift_eV"] == pytest.approx(0.1)
    assert np.isnan(drifts[1]["conserved_energy_drift_eV"])  # Langevin: no conserved quantity


def test_read_cells_matches_the_trajectory(ramp_run, tmp_path):
    path = ramp_run / RUN_FILES["trajectory"]
    steps, cells = read_cells(path)
    frames = read(path, ":")
    assert list(steps) == [f.info["step"] for f in frames] == list(range(0, 151, 10))
    np.testing.assert_array_equal(cells, [f.cell[:] for f in frames])
    damaged = tmp_path / "damaged.traj"
    damaged.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match="damaged.traj"):
        read_cells(damaged)


def test_run_frames_names_a_folder_without_frames_and_a_missing_path(tmp_path):
    """No trajectory frames and no final.extxyz (or no file at all): an aseml_zif error naming
    the path, not the reader's FileNotFoundError."""
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    with pytest.raises(StructureError, match="not_a_run: not a run folder with frames"):
        run_frames(empty)
    with pytest.raises(StructureError, match="missing.traj: no such run folder or structure"):
        run_frames(tmp_path / "missing.traj")
