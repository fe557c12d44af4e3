"""Shared fixtures: the authors' published files in ../shared/data/castel2024 (skipped when absent)."""
import os
from pathlib import Path

# Tiny linear algebra (3x3 expm in LangevinBAOAB, per-frame fits) is slowed down by orders of
# magnitude by OpenBLAS thread start-up on a busy machine: one thread for the test suite.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pytest

SHARED = Path(
    os.environ.get(
        "ASEML_ZIF_SHARED_DATA",
        Path(__file__).resolve().parents[2] / "shared" / "data" / "castel2024",
    )
)
PAPER_MODEL = SHARED / "model" / "nequip_l2r6stress0.pth"
CRYSTAL_LMP = SHARED / "structures" / "zif4_crystal.lmp"
CRYSTAL_CIF = SHARED / "structures" / "zif4_crystal_exp.cif"
GLASS_DIR = SHARED / "structures" / "abinitio_glasses"


def _need(path):
    if not path.exists():
        pytest.skip(f"published data not found: {path} (set ASEML_ZIF_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def shared_dir():
    return _need(SHARED)


@pytest.fixture(scope="session")
def paper_model_path():
    return _need(PAPER_MODEL)


@pytest.fixture(scope="session")
def crystal_lmp():
    """The shared ZIF-4 crystal (thermal snapshot), read and wrapped."""
    from aseml_zif.io import read_structure

    return read_structure(_need(CRYSTAL_LMP))


@pytest.fixture(scope="session")
def glass_paths():
    paths = sorted(_need(GLASS_DIR).glob("ZIF4_15glass*.cif"))
    if len(paths) != 10:
        pytest.skip(f"expected ten ab initio glasses in {GLASS_DIR}, found {len(paths)}")
    return paths


@pytest.fixture(scope="session")
def glasses(glass_paths):
    from aseml_zif.io import read_structure

    return [read_structure(p) for p in glass_paths]


@pytest.fixture(scope="session")
def paper_calc64(paper_model_path):
    """The paper's legacy model cast to float64 (for finite-difference and conversion checks)."""
    from aseml_zif.calculator import load_potential

    return load_potential(paper_model_path, device="cpu", dtype="float64")
