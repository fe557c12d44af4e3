"""Stages, the melt-quench protocol of Castel et al. (2024) and the step schedule."""
import pytest

from aseml_zif.errors import AsemlZifError, SettingsError
from aseml_zif.md import Stage, StageError, melt_quench
from aseml_zif.md.schedule import Schedule


def test_melt_quench_has_the_papers_defaults():
    stages = melt_quench()
    assert [s.label for s in stages] == ["heat", "plateau", "quench", "equilibrate"]
    assert [s.duration_ps for s in stages] == pytest.approx([60.0, 50.0, 60.0, 100.0])
    assert stages[0].temperature_range == (300.0, 1500.0)
    assert stages[1].temperature_range == (1500.0, 1500.0)
    assert stages[2].temperature_range == (1500.0, 300.0)
    assert stages[3].temperature_range == (300.0, 300.0)
    assert all(s.ensemble == "nvt" and s.tdamp_fs == 100.0 for s in stages)


def test_melt_quench_knobs_and_npt():
    stages = melt_quench(T_max_K=1200, rate_K_per_ps=100, plateau_ps=0, equilibrate_ps=5,
                         T_start_K=400, ensemble="npt", pressure_GPa=0.0)
    assert [s.label for s in stages] == ["heat", "quench", "equilibrate"]
    assert stages[0].duration_ps == pytest.approx(8.0)
    assert all(s.pressure_GPa == 0.0 and s.ensemble == "npt" for s in stages)
    with pytest.raises(StageError, match="T_max_K"):
        melt_quench(T_max_K=200)


def test_melt_quench_old_temperature_names_warn_and_still_work():
    new = melt_quench(T_max_K=1200, T_start_K=400, rate_K_per_ps=100)
    with pytest.warns(DeprecationWarning, match=r"melt_quench\(T_max=\) is deprecated, use T_max_K="):
        with pytest.warns(DeprecationWarning, match=r"T_start=\) is deprecated, use T_start_K="):
            old = melt_quench(T_max=1200, T_start=400, rate_K_per_ps=100)
    assert old == new and new[0].temperature_range == (400.0, 1200.0)
    with pytest.raises(SettingsError, match="T_max_K= only"), pytest.warns(DeprecationWarning):
        melt_quench(T_max_K=1300, T_max=1200)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(ensemble="nph", duration_ps=1, temperature_K=300), "unknown ensemble"),
        (dict(ensemble="nvt", duration_ps=0, temperature_K=300), "duration_ps"),
        (dict(ensemble="nvt", duration_ps=1, temperature_K=(300, 400, 500)), "ramp"),
        (dict(ensemble="nvt", duration_ps=1, temperature_K=-5), "> 0 K"),
        (dict(ensemble="nvt", duration_ps=1, temperature_K=300, pressure_GPa=0), "no pressure"),
        (dict(ensemble="npt_flex", duration_ps=1, temperature_K=300), "needs pressure_GPa"),
    ],
)
def test_bad_stages_raise_package_errors(kwargs, match):
    with pytest.raises(AsemlZifError, match=match):
        Stage(**kwargs)


def test_schedule_ramps_linearly_and_groups_integrators():
    stages = [Stage("nvt", 0.01, (300, 500), name="up"), Stage("nvt", 0.005, 500),
              Stage("npt", 0.005, 500, pressure_GPa=0.1)]
    sched = Schedule(stages, timestep_fs=1.0)
    assert sched.counts == [10, 5, 5] and sched.total_steps == 20
    assert sched.target_temperature(0) == 300
    assert sched.target_temperature(5) == pytest.approx(400)
    assert sched.target_temperature(10) == pytest.approx(500)
    assert [sched.stage_index(s) for s in (0, 1, 10, 11, 15, 16, 20)] == [0, 0, 0, 1, 1, 2, 2]
    assert sched.groups == [0, 0, 1]  # NVT ramp and plateau share one thermostat
    with pytest.raises(StageError, match="shorter than one"):
        Schedule([Stage("nvt", 1e-4, 300)], timestep_fs=0.5)


def test_hot_stage_with_long_step_warns():
    hot = [Stage("nvt", 1, 1600)]
    with pytest.warns(UserWarning, match="0.25 fs"):
        Schedule(hot, 0.5).warn_if_too_hot()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Schedule(hot, 0.25).warn_if_too_hot()
        Schedule(melt_quench(), 0.5).warn_if_too_hot()  # 1500 K is not above 1500 K
