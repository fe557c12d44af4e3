"""MD protocol stages and the melt-quench schedule of Castel et al. (2024)."""
from dataclasses import asdict, dataclass

from .._deprecation import renamed_argument
from ..errors import StageError

__all__ = ["ENSEMBLES", "Stage", "melt_quench", "steps_per_stage"]

#: ensemble name -> what integrates it (see :mod:`aseml_zif.md.integrators`)
ENSEMBLES = {
    "nvt": "Nosé–Hoover chain (ase.md.nose_hoover_chain.NoseHooverChainNVT)",
    "npt": "MTK isotropic barostat + Nosé–Hoover chain (IsotropicMTKNPT)",
    "npt_flex": "MTK fully flexible cell + Nosé–Hoover chain (MTKNPT)",
    "npt_langevin": "Langevin BAOAB, fully flexible cell (LangevinBAOAB(hydrostatic=False))",
}


@dataclass(frozen=True)
class Stage:
    """One segment of an MD protocol.

    Parameters
    ----------
    ensemble : {"nvt", "npt", "npt_flex", "npt_langevin"}
        ``"nvt"``: Nosé–Hoover chain thermostat (the paper's NVT). ``"npt"``: isotropic MTK
        barostat. ``"npt_flex"``: MTK barostat, all cell components. ``"npt_langevin"``:
        Langevin BAOAB with a fully flexible cell, the option whose strain fluctuations match
        the elastic constants (use it for the strain-fluctuation method).
    duration_ps : float
        Length of the stage in ps.
    temperature_K : float or (float, float)
        Target temperature in K, or a ``(start, end)`` linear ramp over the stage.
    pressure_GPa : float, optional
        Target pressure in GPa (required by the NPT ensembles, refused by ``"nvt"``).
    name : str, optional
        Label written to every saved frame (``atoms.info["stage"]``) and to the thermo log;
        defaults to the ensemble name.
    tdamp_fs : float
        Thermostat time constant in fs (100 fs as in the paper; Langevin ``T_tau``).
    pdamp_fs : float
        Barostat time constant in fs (1000 fs; Langevin ``P_tau``).
    """

    ensemble: str
    duration_ps: float
    temperature_K: object
    pressure_GPa: float = None
    name: str = None
    tdamp_fs: float = 100.0
    pdamp_fs: float = 1000.0

    def __post_init__(self):
        if self.ensemble not in ENSEMBLES:
            raise StageError(
                f"unknown ensemble {self.ensemble!r}: choose one of {', '.join(ENSEMBLES)}"
            )
        if not self.duration_ps > 0:
            raise StageError(f"stage {self.label!r}: duration_ps must be > 0, got {self.duration_ps}")
        temps = self.temperature_K
        if isinstance(temps, (list, tuple)):
            if len(temps) != 2:
                raise StageError(f"stage {self.label!r}: a ramp is (start, end), got {temps!r}")
            object.__setattr__(self, "temperature_K", (float(temps[0]), float(temps[1])))
        else:
            object.__setattr__(self, "temperature_K", float(temps))
        if min(self.temperature_range) <= 0:
            raise StageError(f"stage {self.label!r}: temperatures must be > 0 K")
        if self.ensemble == "nvt" and self.pressure_GPa is not None:
            raise StageError(f"stage {self.label!r}: an NVT stage takes no pressure")
        if self.ensemble != "nvt" and self.pressure_GPa is None:
            raise StageError(f"stage {self.label!r}: ensemble {self.ensemble!r} needs pressure_GPa")
        if self.tdamp_fs <= 0 or self.pdamp_fs <= 0:
            raise StageError(f"stage {self.label!r}: damping times must be > 0 fs")

    @property
    def label(self):
        """Name shown in trajectories and logs."""
        return self.name or self.ensemble

    @property
    def temperature_range(self):
        """``(start, end)`` target temperature in K (equal for a plateau)."""
        t = self.temperature_K
        return t if isinstance(t, tuple) else (t, t)

    def target_temperature(self, fraction):
        """Target temperature in K after ``fraction`` (0..1) of the stage (linear ramp)."""
        start, end = self.temperature_range
        return start + (end - start) * fraction

    def integrator_key(self):
        """Consecutive stages with equal keys share one integrator (thermostat state carries on)."""
        return (self.ensemble, self.pressure_GPa, self.tdamp_fs, self.pdamp_fs)

    def to_dict(self):
        """JSON-compatible description."""
        d = asdict(self)
        if isinstance(d["temperature_K"], tuple):
            d["temperature_K"] = list(d["temperature_K"])
        return d


def steps_per_stage(stages, timestep_fs):
    """Number of MD steps of each stage (duration rounded to whole steps, at least one)."""
    counts = []
    for stage in stages:
        n = int(round(stage.duration_ps * 1000.0 / timestep_fs))
        if n < 1:
            raise StageError(
                f"stage {stage.label!r} ({stage.duration_ps} ps) is shorter than one "
                f"{timestep_fs} fs step"
            )
        counts.append(n)
    return counts


def melt_quench(
    T_max_K=1500.0,
    rate_K_per_ps=20.0,
    plateau_ps=50.0,
    equilibrate_ps=100.0,
    T_start_K=300.0,
    ensemble="nvt",
    pressure_GPa=None,
    tdamp_fs=100.0,
    pdamp_fs=1000.0,
    *,
    T_max=None,
    T_start=None,
):
    """Melt-quench protocol of Castel et al., Digital Discovery 3, 355 (2024).

    Heat from ``T_start_K`` to ``T_max_K`` at ``rate_K_per_ps``, hold ``plateau_ps`` at
    ``T_max_K``, quench at the same rate back to ``T_start_K``, equilibrate ``equilibrate_ps`` at
    ``T_start_K``.
    The paper's defaults: 300 → 1500 K at 20 K/ps (60 ps), 50 ps plateau, 60 ps quench,
    100 ps at 300 K, NVT throughout.

    Parameters
    ----------
    T_max_K, T_start_K : float
        Temperatures in K.
    rate_K_per_ps : float
        Heating and quenching rate in K/ps.
    plateau_ps, equilibrate_ps : float
        Durations in ps (a zero duration drops that stage).
    ensemble : str
        Ensemble of every stage (see :class:`Stage`); ``pressure_GPa`` for the NPT ones.
    tdamp_fs, pdamp_fs : float
        Thermostat / barostat time constants in fs.
    T_max, T_start : float, optional
        Deprecated names of ``T_max_K`` and ``T_start_K`` (warn).

    Returns
    -------
    list of Stage
        Named ``"heat"``, ``"plateau"``, ``"quench"``, ``"equilibrate"``.

    Raises
    ------
    StageError
        ``T_max_K <= T_start_K`` or a non-positive rate.
    SettingsError
        A temperature given under both its new and its deprecated name.
    """
    T_max_K = renamed_argument("melt_quench", "T_max", "T_max_K", T_max, T_max_K, 1500.0)
    T_start_K = renamed_argument("melt_quench", "T_start", "T_start_K", T_start, T_start_K, 300.0)
    if T_max_K <= T_start_K:
        raise StageError(f"T_max_K ({T_max_K} K) must exceed T_start_K ({T_start_K} K)")
    if rate_K_per_ps <= 0:
        raise StageError(f"rate_K_per_ps must be > 0, got {rate_K_per_ps}")
    ramp_ps = (T_max_K - T_start_K) / rate_K_per_ps
    common = dict(pressure_GPa=pressure_GPa, tdamp_fs=tdamp_fs, pdamp_fs=pdamp_fs)
    plan = [
        ("heat", ramp_ps, (T_start_K, T_max_K)),
        ("plateau", plateau_ps, T_max_K),
        ("quench", ramp_ps, (T_max_K, T_start_K)),
        ("equilibrate", equilibrate_ps, T_start_K),
    ]
    return [
        Stage(ensemble, duration, temps, name=name, **common)
        for name, duration, temps in plan
        if duration > 0
    ]
