"""aseml_zif.calculator.compiled: load_potential(compile=True), its cache and its fallbacks.

Compiling takes minutes, so the real compiles are ``slow``; the fallbacks (no compiler, a
failing compiler) and the cache key run in the default suite on the shipped demo model.
"""
from pathlib import Path

import numpy as np
import pytest

from aseml_zif import load_potential
from aseml_zif.calculator import compiled
from aseml_zif.testing.toy_model import toy_zif_cell


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ASEML_ZIF_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _energy_forces(calc, atoms):
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_potential_energy(), atoms.get_forces()


def test_without_compiler_one_warning_and_the_eager_model(cache, monkeypatch):
    monkeypatch.setattr(compiled.shutil, "which", lambda name: None)
    with pytest.warns(UserWarning, match="no C\\+\\+ compiler") as record:
        calc = load_potential("demo", device="cpu", compile=True)
    assert len([w for w in record if "compile=True" in str(w.message)]) == 1
    e, f = _energy_forces(calc, toy_zif_cell())
    e0, f0 = _energy_forces(load_potential("demo", device="cpu"), toy_zif_cell())
    assert e == pytest.approx(e0, abs=1e-9) and np.allclose(f, f0, atol=1e-9)
    assert not (cache / "compiled").exists() or not list((cache / "compiled").rglob("*.pt2"))


def test_failing_compiler_says_why_and_leaves_no_half_file(cache, monkeypatch):
    def broken(package, output, device):
        output.write_bytes(b"half a file")
        raise RuntimeError("nequip-compile failed (exit 1): g++: internal compiler error")

    monkeypatch.setattr(compiled, "_run_compiler", broken)
    with pytest.warns(UserWarning, match="internal compiler error"):
        calc = load_potential("demo", device="cpu", compile=True)
    assert calc.metadata.format == "nequip-package"
    assert not list(cache.rglob("*.pt2"))


def test_cache_key_follows_source_dtype_and_device():
    key = compiled._cache_key("ab" * 32, "float32", "cpu")
    assert key != compiled._cache_key("cd" * 32, "float32", "cpu")
    assert key != compiled._cache_key("ab" * 32, "float64", "cpu")
    assert key != compiled._cache_key("ab" * 32, "float32", "cuda:0")
    # one build serves every GPU of the same kind: only the device type enters the key
    assert compiled._cache_key("ab" * 32, "float32", "cuda:0") == compiled._cache_key("ab" * 32, "float32", "cuda:1")
    import nequip
    import torch

    assert torch.__version__.replace("+", "_") in key and nequip.__version__ in key


@pytest.fixture
def torch_threads():
    import torch

    before = torch.get_num_threads()
    yield torch
    torch.set_num_threads(before)


def test_cpu_build_is_made_and_kept_per_thread_count(torch_threads, monkeypatch, tmp_path):
    """Inductor writes CPU kernels for the thread count it compiles with: the compiler child
    gets this process's count, and builds for other counts are cached apart (GPU builds not)."""
    torch_threads.set_num_threads(1)
    one = compiled._cache_key("ab" * 32, "float32", "cpu")
    gpu = compiled._cache_key("ab" * 32, "float32", "cuda:0")
    torch_threads.set_num_threads(2)
    assert one.endswith("-threads1")
    assert compiled._cache_key("ab" * 32, "float32", "cpu") == one.replace("threads1", "threads2")
    assert compiled._cache_key("ab" * 32, "float32", "cuda:0") == gpu and "threads" not in gpu

    seen = []

    class FakeCompiler:
        def __init__(self, command, stdout, stderr, env):
            seen.append((command, env))
            Path(command[4]).write_bytes(b"")  # the output file

        def wait(self):
            return 0

        def poll(self):
            return 0

    monkeypatch.setattr(compiled.subprocess, "Popen", FakeCompiler)
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # what the user's shell had: not what is built for
    for n in (1, 2):
        torch_threads.set_num_threads(n)
        compiled._run_compiler(tmp_path / "m.nequip.zip", tmp_path / f"m{n}.nequip.pt2", "cpu")
    compiled._run_compiler(tmp_path / "m.nequip.zip", tmp_path / "g.nequip.pt2", "cuda:0")
    assert [env["OMP_NUM_THREADS"] for _, env in seen] == ["1", "2", "7"]


def test_a_build_records_the_file_it_was_compiled_from(tmp_path):
    """The build's metadata names the package it came from (what makes builds for other thread
    counts the same potential to a resumed run); a native package has no conversion record."""
    from types import SimpleNamespace

    from aseml_zif._checksum import file_sha256
    from aseml_zif.calculator import read_model_metadata
    from aseml_zif.calculator.loading import resolve_path
    from aseml_zif.md.potential import describe_potential

    package = resolve_path("demo")
    build = compiled._described_as_source(read_model_metadata("demo"), package, "nequip-package",
                                          tmp_path / "model.nequip.pt2")
    assert build.path == tmp_path / "model.nequip.pt2"
    assert build.compiled_from == {"source": package.name, "sha256": file_sha256(package)}
    assert build.converted_from is None
    # what a run records: the package's hash as the source of the build (bytes of its own)
    (tmp_path / "model.nequip.pt2").write_bytes(b"kernels for this machine")
    record = describe_potential(SimpleNamespace(metadata=build))
    assert record["sha256"] == file_sha256(tmp_path / "model.nequip.pt2")
    assert record["source_sha256"] == file_sha256(package)


@pytest.mark.slow
def test_demo_model_compiled_agrees_and_is_cached(cache, monkeypatch):
    calc = load_potential("demo", device="cpu", compile=True)
    assert calc.metadata.format == "nequip-aotinductor"
    assert calc.metadata.compiled_from["source"] == "zif4_demo.nequip.zip"
    atoms = toy_zif_cell()
    e, f = _energy_forces(calc, atoms)
    e0, f0 = _energy_forces(load_potential("demo", device="cpu"), atoms)
    assert e == pytest.approx(e0, abs=1e-4) and np.abs(f - f0).max() < 1e-4

    def no_second_compile(*args):
        raise AssertionError("compiled again although the build is cached")

    monkeypatch.setattr(compiled, "_run_compiler", no_second_compile)
    again = load_potential("demo", device="cpu", compile=True)
    # the same build (float32 kernels may reduce in another order: round-off, not bitwise)
    assert np.abs(_energy_forces(again, atoms)[1] - f).max() < 1e-5


@pytest.mark.slow
@pytest.mark.paper_model
def test_paper_model_compiled_matches_legacy(paper_model_path, crystal_lmp, cache, monkeypatch):
    """Convert + AOTInductor (minutes); float32 forces within 5e-4 eV/Å of the legacy model."""
    from aseml_zif.training.fetch import MODELS

    calc = load_potential(paper_model_path, device="cpu", compile=True)
    assert calc.metadata.format == "nequip-aotinductor" and calc.metadata.dtype == "float32"
    assert calc.metadata.converted_from["sha256"] == MODELS["castel2024-nequip"]["sha256"]
    e, f = _energy_forces(calc, crystal_lmp)
    e0, f0 = _energy_forces(load_potential(paper_model_path, device="cpu"), crystal_lmp)
    assert np.abs(f - f0).max() < 5e-4
    assert abs(e - e0) / len(crystal_lmp) < 1e-5

    monkeypatch.setattr(compiled, "_run_compiler", lambda *a: pytest.fail("compiled twice"))
    again = load_potential(paper_model_path, device="cpu", compile=True)
    assert np.abs(_energy_forces(again, crystal_lmp)[1] - f).max() < 1e-5
