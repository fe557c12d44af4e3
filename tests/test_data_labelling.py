"""Labelling with any ASE calculator: resumable, stored in extxyz or an ASE database."""
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.lj import LennardJones

from aseml_zif.data import label, read_frames, write_frames
from aseml_zif.data.labelling import LabellingError
from crashing import Crashing


class CountingLJ(Crashing, LennardJones):
    """Lennard-Jones that counts its evaluations and can fail on the ``crash_at``-th one."""

    def __init__(self, crash_at=None, **kw):
        super().__init__(crash_at=crash_at, sigma=1.0, epsilon=0.01, rc=3.0, **kw)


def _frames(n=5, seed=0):
    rng = np.random.default_rng(seed)
    base = Atoms("Ar8", scaled_positions=[[i / 2, j / 2, k / 2] for i in (0, 1) for j in (0, 1)
                                          for k in (0, 1)], cell=np.eye(3) * 2.3, pbc=True)
    frames = []
    for k in range(n):
        a = base.copy()
        a.positions += rng.normal(0, 0.05, a.positions.shape)
        a.info["source"] = f"rattle{k}"
        frames.append(a)
    return frames


@pytest.mark.parametrize("suffix", ["xyz", "db"])
def test_labels_match_calculator_and_resume(tmp_path, suffix):
    frames = _frames()
    out = tmp_path / f"labels.{suffix}"
    with pytest.raises(LabellingError, match="frame 3"):
        label(frames, CountingLJ(crash_at=4), out, progress=False)
    assert len(read_frames(out)) == 3
    calc = CountingLJ()
    labelled = label(frames, calc, out, progress=False)
    assert calc.calls == 2  # only the two missing frames were computed
    stored = read_frames(out)
    assert len(labelled) == len(stored) == 5
    for a, s in zip(frames, stored):
        ref = a.copy()
        ref.calc = LennardJones(sigma=1.0, epsilon=0.01, rc=3.0)
        assert s.get_potential_energy() == pytest.approx(ref.get_potential_energy(), abs=1e-9)
        assert np.allclose(s.get_forces(), ref.get_forces(), atol=1e-7)
        assert np.allclose(s.get_stress(), ref.get_stress(), atol=1e-9)
        assert np.allclose(s.positions, a.positions, atol=1e-7)
    assert stored[4].info["source"] == "rattle4"
    # nothing left to do
    calc = CountingLJ()
    label(frames, calc, out, progress=False)
    assert calc.calls == 0


def test_refuses_output_of_other_frames(tmp_path):
    out = tmp_path / "labels.xyz"
    label(_frames(2, seed=0), CountingLJ(), out, progress=False)
    with pytest.raises(LabellingError, match="stored frame 0 is not input frame 0"):
        label(_frames(3, seed=1), CountingLJ(), out, progress=False)
    with pytest.raises(LabellingError, match="holds 2 frames"):
        label(_frames(1, seed=0), CountingLJ(), out, progress=False)


def test_write_read_round_trip_keeps_labels(tmp_path):
    frames = label(_frames(3), CountingLJ(), tmp_path / "a.xyz", progress=False)
    write_frames(frames, tmp_path / "b.db")
    back = read_frames(tmp_path / "b.db")
    assert [f.get_potential_energy() for f in back] == pytest.approx(
        [f.get_potential_energy() for f in frames])
