"""Position in a protocol: which stage, which target temperature, at every global MD step."""
import bisect
import warnings

import numpy as np

from .stages import Stage, StageError, steps_per_stage

__all__ = ["Schedule", "HOT_TEMPERATURE_K", "HOT_TIMESTEP_FS"]

#: above this temperature (K) Castel et al. advise a time step of at most HOT_TIMESTEP_FS
HOT_TEMPERATURE_K = 1500.0
HOT_TIMESTEP_FS = 0.25


class Schedule:
    """Stages laid out on the global step axis.

    Step ``s`` (1-based) is the step that takes the system from time ``(s-1) dt`` to ``s dt``;
    step 0 is the initial state. Within a stage of ``n`` steps, its ``k``-th step targets
    ``stage.target_temperature(k / n)`` (a ramp reaches its end temperature at its last step).

    Parameters
    ----------
    stages : sequence of Stage
    timestep_fs : float
    """

    def __init__(self, stages, timestep_fs):
        self.stages = list(stages)
        if not self.stages:
            raise StageError("no stages given")
        for k, stage in enumerate(self.stages):
            if not isinstance(stage, Stage):
                raise StageError(f"stages[{k}] is a {type(stage).__name__}, not a Stage")
        if not timestep_fs > 0:
            raise StageError(f"timestep_fs must be > 0, got {timestep_fs}")
        self.timestep_fs = float(timestep_fs)
        self.counts = steps_per_stage(self.stages, timestep_fs)
        self.ends = list(np.cumsum(self.counts))
        self.total_steps = int(self.ends[-1])
        # consecutive stages with equal integrator settings share one integrator
        self.groups = [0]
        for prev, cur in zip(self.stages, self.stages[1:]):
            same = prev.integrator_key() == cur.integrator_key()
            self.groups.append(self.groups[-1] + (0 if same else 1))

    def warn_if_too_hot(self):
        """Warn when a stage is hotter than 1500 K and the time step exceeds 0.25 fs."""
        hottest = max(max(s.temperature_range) for s in self.stages)
        if hottest > HOT_TEMPERATURE_K and self.timestep_fs > HOT_TIMESTEP_FS:
            warnings.warn(
                f"time step {self.timestep_fs} fs at up to {hottest:.0f} K: above "
                f"{HOT_TEMPERATURE_K:.0f} K a step of at most {HOT_TIMESTEP_FS} fs is advised",
                stacklevel=3,
            )

    def stage_index(self, step):
        """Index of the stage that step ``step`` belongs to (step 0 -> the first stage)."""
        if not 0 <= step <= self.total_steps:
            raise StageError(f"step {step} outside the schedule (0..{self.total_steps})")
        return min(bisect.bisect_left(self.ends, max(step, 1)), len(self.stages) - 1)

    def target_temperature(self, step):
        """Target temperature in K of step ``step``."""
        k = self.stage_index(step)
        start = self.ends[k] - self.counts[k]
        return self.stages[k].target_temperature((step - start) / self.counts[k])
