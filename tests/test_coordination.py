"""Coordination numbers: exact crystal values, the aMOF anchors on the ab initio glasses."""
import json

import matplotlib
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from aseml_zif.analysis import Coordination
from aseml_zif.errors import AsemlZifError, StructureError

matplotlib.use("Agg")


def test_crystal_every_zinc_has_four_nitrogens(crystal_lmp):
    cn = Coordination("Zn", "N", 2.5).compute(crystal_lmp)
    assert cn.mean == 4.0
    assert cn.distribution == {4: 1.0}


def test_ab_initio_glasses_match_published_values(glasses):
    """aMOF 1.1.0 on the same files: 4.000, 3.9375 x7, 3.875 x2 -> 3.93125 (paper: 3.93)."""
    cn = Coordination().compute(glasses)
    assert sorted(cn.per_frame.tolist()) == [3.875] * 2 + [3.9375] * 7 + [4.0]
    assert cn.mean == pytest.approx(3.93125, abs=1e-12)
    dist = cn.distribution
    assert sum(dist.values()) == pytest.approx(1.0)
    assert sum(k * v for k, v in dist.items()) == pytest.approx(cn.mean)


def test_rocksalt_primitive_cell_multiple_images():
    """2-atom triclinic NaCl cell (edges 3.99 Å): the cut-offs reach several images."""
    atoms = bulk("NaCl", "rocksalt", a=5.64)
    assert Coordination("Na", "Cl", 3.0).compute(atoms).mean == 6.0
    assert Coordination("Na", "Na", 4.1).compute(atoms).distribution == {12: 1.0}
    assert Coordination("Na", "Cl", 5.0).compute(atoms).mean == 6 + 8  # 2.82 Å and 4.88 Å shells
    assert Coordination("Na", "Cl", 2.0).compute(atoms).distribution == {0: 1.0}


def test_distribution_over_frames_mixes_atoms_and_frames():
    cell = np.eye(3) * 12.0
    positions = [[6, 6, 6], [8, 6, 6], [4, 6, 6], [6, 8, 6], [6, 4, 6]]
    four = Atoms("ZnN4", positions=positions, cell=cell, pbc=True)
    three = four[:4]
    cn = Coordination("Zn", "N", 2.5).compute([four, three, three, three])
    assert cn.distribution == {3: 0.75, 4: 0.25}
    assert cn.mean == pytest.approx(3.25)
    data = json.loads(json.dumps(cn.to_dict()))
    assert data["distribution"] == {"3": 0.75, "4": 0.25}
    assert cn.plot().get_ylabel() == "fraction"


def test_bad_input():
    with pytest.raises(StructureError, match="frame 0: no 'Zn'"):
        Coordination().compute(bulk("Cu"))
    with pytest.raises(StructureError, match="no such trajectory"):
        Coordination().compute("/nonexistent/traj.traj")
    with pytest.raises(AsemlZifError):
        Coordination(cutoff=-1.0)
    with pytest.raises(AsemlZifError, match="compute"):
        Coordination().mean


def test_trajectory_path_with_stride(tmp_path, crystal_lmp):
    from ase.io import write

    broken = crystal_lmp.copy()
    zn = [a.index for a in broken if a.symbol == "Zn"][0]
    nitrogens = [a.index for a in broken if a.symbol == "N"]
    bonded = [n for n in nitrogens if broken.get_distance(zn, n, mic=True) < 2.5]
    broken.positions[bonded[0]] += broken.positions[bonded[0]] - broken.positions[zn]
    path = tmp_path / "frames.traj"
    write(path, [crystal_lmp, broken, crystal_lmp, broken])
    everything = Coordination().compute(path)
    assert everything.per_frame.tolist() == [4.0, 3.9375, 4.0, 3.9375]
    assert Coordination(stride=2).compute(path).mean == 4.0
