"""One-call report ``analyze`` (issue 8, item 9)."""
import json

import numpy as np
import pytest
from ase.io import write

from aseml_zif.analysis import analyze, find_linkers
from aseml_zif.analysis.report import _evenly_spaced
from aseml_zif.errors import AsemlZifError
from aseml_zif.structures import zif4_crystal


def test_crystal_report_and_figures(crystal_lmp, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    report = analyze(crystal_lmp, outdir=tmp_path)
    assert report["coordination"]["mean"] == 4.0
    assert report["linkers"]["n_intact_per_frame"] == [32]
    assert report["linkers"]["first_frame_with_broken_linker"] is None
    assert report["rings"]["counts_per_cell"] == {"8": 4.0, "12": 16.0, "16": 32.0}
    assert report["pore_volume"]["total_cm3_per_kg"] == pytest.approx(53.3, abs=1.0)
    with pytest.warns(DeprecationWarning, match="use 'total_std_cm3_per_kg'"):
        assert report["pore_volume"]["total_std"] == report["pore_volume"]["total_std_cm3_per_kg"]
    assert report["angles"]["mean"] == pytest.approx(109.5, abs=1.5)
    zn_n = report["rdf"]["Zn-N"]
    assert 1.9 < zn_n["r"][int(np.argmax(zn_n["g"]))] < 2.1
    # PMF is zero at the most probable distance, None (unbounded) where g = 0
    pmf = zn_n["pmf_kJ_mol"]
    assert min(p for p in pmf if p is not None) == 0.0 and pmf[0] is None
    for name in ("rdf_pmf.png", "angles_pmf.png", "rings.png", "coordination.png"):
        assert (tmp_path / name).stat().st_size > 10_000
    assert report["figures"] == ["rdf_pmf.png", "angles_pmf.png", "rings.png", "coordination.png"]
    assert json.loads((tmp_path / "report.json").read_text()) == json.loads(json.dumps(report))


def test_trajectory_file_reports_first_broken_frame(tmp_path):
    crystal = zif4_crystal()
    broken = crystal.copy()
    members = find_linkers(crystal).linkers[0]
    n = next(a for a in members if crystal[a].symbol == "N")
    c = next(a for a in members if crystal[a].symbol == "C"
             and crystal.get_distance(n, a, mic=True) < 1.6)
    vec = crystal.get_distance(n, c, mic=True, vector=True)
    broken.positions[c] = crystal.positions[n] + vec / np.linalg.norm(vec) * 2.5
    rng = np.random.default_rng(0)
    frames = []
    for k in range(4):
        frame = (broken if k == 2 else crystal).copy()
        frame.positions += rng.normal(scale=0.02, size=frame.positions.shape)
        frames.append(frame)
    path = tmp_path / "run.traj"
    write(path, frames)
    report = analyze(str(path), rings=False, pores=False, timestep_fs=10.0)
    assert report["n_frames"] == 4
    assert report["linkers"]["n_intact_per_frame"] == [32, 32, 31, 32]
    assert report["linkers"]["first_frame_with_broken_linker"] == 2
    assert report["linkers"]["first_problem"]["broken"][0]["formula"] == "C3H3N2"
    assert "rings" not in report and "pore_volume" not in report
    assert report["msd"]["time_fs"][:2] == [0.0, 10.0]
    json.dumps(report, allow_nan=False)


def test_structure_frames_are_spread_evenly():
    assert _evenly_spaced(5, 10) == [0, 1, 2, 3, 4]
    picked = _evenly_spaced(100, 10)
    assert len(picked) == 10 and picked[0] == 0 and picked[-1] == 99


def test_unwritable_outdir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(AsemlZifError, match="cannot create"):
        analyze(zif4_crystal(), outdir=blocker / "sub", rings=False, pores=False)


@pytest.mark.parametrize("cutoff, bonds", [(2.5, 64), (2.03, 40)])
def test_zn_n_cutoff_is_the_linker_checks_too(cutoff, bonds):
    """One cut-off for coordination and the linker check: the crystal's 64 Zn–N bonds lie at
    2.014–2.037 Å."""
    report = analyze(zif4_crystal(), zn_n_cutoff=cutoff, rings=False, pores=False)
    coordination, linkers = report["coordination"]["mean"], report["linkers"]["last_frame"]
    assert linkers["n_zn_im_bonds"] == bonds == coordination * 16
    assert linkers["mean_coordination"] == coordination
