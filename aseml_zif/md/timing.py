"""Speed of an MD run measured inside it: steps per second next to the model's own time per call.

Every invocation of :func:`aseml_zif.md.run` that performs steps appends one record to
``timing.jsonl`` in its run folder (one JSON object per line; a resumed run adds one per
invocation, also when the watchdog, an error or Ctrl-C stops it). Its wall time is that of the
stepping loop, the start or resume before it left out. Its model time is what the calculator
spent in its model calls during those same steps, under the same machine load:
:class:`~aseml_zif.calculator.DeployedModelCalculator` counts its calls and their wall time
(``model_calls``, ``model_time_s``); other ASE calculators do not, and leave the model fields
``None``. The MD overhead is the time of the steps that is not the model's, as a percentage of
the model's (``benchmarks/md_overhead.py`` splits it up further).
"""
import json
import time
from pathlib import Path

__all__ = ["StepClock", "speed", "read_timing", "timing_summary", "format_speed"]


def _model_clock(calculator):
    """(calls, seconds) the calculator has spent in its model so far; None if it does not count."""
    calls = getattr(calculator, "model_calls", None)
    seconds = getattr(calculator, "model_time_s", None)
    return None if calls is None or seconds is None else (calls, seconds)


def speed(steps, wall_s, model_calls=None, model_s=None):
    """Rates of ``steps`` MD steps done in ``wall_s`` s, ``model_s`` s of it in ``model_calls`` calls.

    Parameters
    ----------
    steps : int
        MD steps.
    wall_s : float
        Wall time of these steps, s.
    model_calls : int, optional
        Model evaluations during them (``None``: not counted).
    model_s : float, optional
        Wall time of these evaluations, s.

    Returns
    -------
    dict
        The arguments (``steps``, ``wall_s``, ``model_calls``, ``model_s``) and ``steps_per_s``,
        ``ms_per_step``, ``model_ms_per_call`` (ms) and ``md_overhead_percent`` (100 ·
        (wall_s − model_s) / model_s); ``None`` where a count or a time is missing or zero.
    """
    counted = model_calls is not None and model_s is not None
    return {
        "steps": int(steps),
        "wall_s": float(wall_s),
        "steps_per_s": steps / wall_s if steps and wall_s > 0 else None,
        "ms_per_step": 1e3 * wall_s / steps if steps else None,
        "model_calls": int(model_calls) if counted else None,
        "model_s": float(model_s) if counted else None,
        "model_ms_per_call": 1e3 * model_s / model_calls if counted and model_calls else None,
        "md_overhead_percent": 100.0 * (wall_s - model_s) / model_s if counted and model_s > 0 else None,
    }


class StepClock:
    """Wall time of the steps of one invocation of :func:`aseml_zif.md.run` and the model's share.

    Parameters
    ----------
    calculator : ase.calculators.calculator.Calculator
        The run's calculator; its ``model_calls`` and ``model_time_s`` are read now and at
        :meth:`record`, when it has them.
    step : int
        MD step the invocation starts from.
    """

    def __init__(self, calculator, step):
        self.calculator = calculator
        self.first_step = int(step)
        self.model_start = _model_clock(calculator)
        self.start = time.perf_counter()

    def record(self, step):
        """The :func:`speed` of the steps from the first one to ``step`` (int), with
        ``first_step`` and ``last_step``."""
        wall = time.perf_counter() - self.start
        model = _model_clock(self.calculator)
        calls = seconds = None
        if model is not None and self.model_start is not None:
            calls, seconds = model[0] - self.model_start[0], model[1] - self.model_start[1]
        return {"first_step": self.first_step, "last_step": int(step),
                **speed(step - self.first_step, wall, calls, seconds)}

    def append(self, path, step):
        """Append :meth:`record` of ``step`` to the JSON-lines file ``path``; nothing when no
        step was done."""
        if step > self.first_step:
            with open(path, "a") as fh:
                fh.write(json.dumps(self.record(step)) + "\n")


def read_timing(path):
    """The records of a run's ``timing.jsonl``, oldest first.

    Parameters
    ----------
    path : path-like
        The file; missing: no records.

    Returns
    -------
    list of dict
        One :meth:`StepClock.record` per invocation that did steps (a line cut short by a
        killed process is left out).
    """
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def timing_summary(records):
    """The :func:`speed` of all steps of ``records`` together, with ``invocations`` (their number).

    Parameters
    ----------
    records : list of dict
        From :func:`read_timing`.

    Returns
    -------
    dict or None
        ``None`` without records. The model fields are ``None`` unless every record has them.
    """
    if not records:
        return None
    counted = all(r["model_calls"] is not None for r in records)
    total = speed(sum(r["steps"] for r in records), sum(r["wall_s"] for r in records),
                  sum(r["model_calls"] for r in records) if counted else None,
                  sum(r["model_s"] for r in records) if counted else None)
    return {"invocations": len(records), **total}


def format_speed(record):
    """One line: steps/s and ms per step next to the model's ms per call and the MD overhead.

    Parameters
    ----------
    record : dict
        A :func:`speed` dict (a :meth:`StepClock.record` or :func:`timing_summary`).

    Returns
    -------
    str
        E.g. ``"108.1 steps/s (9.25 ms/step), model 8.90 ms/call (1001 calls), MD overhead
        3.9 %"``.
    """
    rate = record["steps_per_s"]
    line = (f"{rate:.1f} steps/s ({record['ms_per_step']:.2f} ms/step)" if rate
            else f"{record['steps']} steps")
    if record["model_ms_per_call"] is None:
        return f"{line}, model ms/call not measured (the calculator does not count its calls)"
    line += f", model {record['model_ms_per_call']:.2f} ms/call ({record['model_calls']} calls)"
    overhead = record["md_overhead_percent"]
    return line + (f", MD overhead {overhead:.1f} %" if overhead is not None else "")
