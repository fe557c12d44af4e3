"""Run outputs: the ASE trajectory of saved frames and the CSV thermodynamics log.

Both can be cut back to the state recorded in a checkpoint, so that a resumed run neither loses
nor duplicates frames or log lines.
"""
import csv
import os
from pathlib import Path

from ase.calculators.singlepoint import SinglePointCalculator
from ase.io.trajectory import Trajectory

from .checkpoint import CheckpointError, fsync_directory

__all__ = ["snapshot", "FrameWriter", "ThermoLog", "THERMO_COLUMNS"]

#: properties copied from the calculator into every saved frame
FRAME_PROPERTIES = ("energy", "free_energy", "forces", "stress")

#: columns of ``thermo.csv`` (units in the names)
THERMO_COLUMNS = (
    "step",
    "time_fs",
    "stage",
    "target_temperature_K",
    "temperature_K",
    "potential_energy_eV",
    "kinetic_energy_eV",
    "total_energy_eV",
    "conserved_energy_eV",
    "pressure_GPa",
    "volume_A3",
) + tuple(f"cell_{v}{c}_A" for v in "abc" for c in "xyz")
#: ^ the cell (lattice vectors a, b, c as rows, Å): long NσT runs need it at every logged step,
#:   frames only now and then


def snapshot(atoms, info, evaluate=True):
    """Copy of ``atoms`` with its calculator results frozen and ``info`` as ``atoms.info``.

    Parameters
    ----------
    atoms : ase.Atoms
        State with a calculator (or none).
    info : dict
        Stored as the copy's ``info``.
    evaluate : bool
        Request ``stress`` from the calculator when it lists it (a calculator that computes
        everything in one call, as aseml_zif's does, returns it from its cache; a model without
        a stress output gives none). ``False`` freezes only the results the calculator holds:
        the snapshot of a step on which the model failed.
    """
    calc = atoms.calc
    if evaluate and calc is not None and "stress" in getattr(calc, "implemented_properties", ()):
        try:
            atoms.get_stress()
        except NotImplementedError:  # PropertyNotImplementedError: listed, but not computed
            pass
    results = {}
    if calc is not None:
        results = {k: calc.results[k] for k in FRAME_PROPERTIES if k in calc.results}
    frame = atoms.copy()
    frame.info = dict(info)
    frame.calc = SinglePointCalculator(frame, **results)
    return frame


def _sync(fh):
    fh.flush()
    os.fsync(fh.fileno())


class FrameWriter:
    """Appends frames to an ASE ``.traj`` file that ``ase gui`` reads.

    Parameters
    ----------
    path : path-like
        Trajectory file.
    keep_frames : int
        Number of frames of an existing file to keep (later ones, written after the last
        checkpoint, are dropped); 0 starts a new file.
    """

    def __init__(self, path, keep_frames=0):
        self.path = Path(path)
        if not keep_frames:
            self._traj = Trajectory(str(self.path), "w")
            return
        try:
            self._cut_to(keep_frames)
            self._traj = Trajectory(str(self.path), "a")
        except CheckpointError:
            raise
        except Exception as exc:  # noqa: BLE001 - ASE's reader raises anything on a damaged file
            raise CheckpointError(
                f"{self.path}: damaged trajectory, cannot resume ({type(exc).__name__}: {exc})"
            ) from exc

    def _cut_to(self, keep):
        if not self.path.exists():
            raise CheckpointError(f"{self.path}: missing, but the checkpoint counts {keep} frames")
        with Trajectory(str(self.path)) as traj:
            count = len(traj)
            if count < keep:
                raise CheckpointError(
                    f"{self.path}: holds {count} frames, fewer than the {keep} the checkpoint counts"
                )
            if count == keep:
                return
            tmp = self.path.with_name(self.path.name + ".tmp")
            with Trajectory(str(tmp), "w") as out:
                for k in range(keep):
                    out.write(traj[k])
        os.replace(tmp, self.path)
        fsync_directory(self.path.parent)

    def write(self, frame):
        """Append one frame (an ``Atoms`` from :func:`snapshot`).

        Its frozen results are handed to ASE's writer as they are, the same numbers it would
        ask the frame's calculator for, one state check (~0.3 ms) per property each.
        """
        self._traj.write(frame, **(frame.calc.results if frame.calc is not None else {}))

    def __len__(self):
        return len(self._traj)

    def sync(self):
        """Flush the file to disk (called before every checkpoint)."""
        _sync(self._traj.backend.fd)

    def close(self):
        self._traj.close()


class ThermoLog:
    """CSV log of thermodynamic quantities, one row per logged step.

    Parameters
    ----------
    path : path-like
        CSV file.
    keep_bytes : int or None
        Length of an existing file to keep (rows written after the last checkpoint are cut);
        ``None`` starts a new file with a header.
    """

    def __init__(self, path, keep_bytes=None):
        self.path = Path(path)
        if keep_bytes is None:
            self._fh = open(self.path, "w", newline="")
            csv.writer(self._fh).writerow(THERMO_COLUMNS)
        else:
            if not self.path.exists() or self.path.stat().st_size < keep_bytes:
                raise CheckpointError(f"{self.path}: shorter than the checkpoint records")
            self._fh = open(self.path, "r+", newline="")
            self._fh.truncate(keep_bytes)
            self._fh.seek(keep_bytes)
        self._writer = csv.writer(self._fh)

    def write(self, row):
        """Append a row (mapping with the keys of :data:`THERMO_COLUMNS`)."""
        self._writer.writerow([row[c] for c in THERMO_COLUMNS])

    def sync(self):
        """Flush to disk; return the file length in bytes."""
        _sync(self._fh)
        return self._fh.tell()

    def close(self):
        self._fh.close()
