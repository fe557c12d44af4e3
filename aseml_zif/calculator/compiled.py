"""AOTInductor-compiled models, kept in a cache so that only the first load pays for compiling.

``load_potential(path, compile=True)`` comes here. A legacy model is first converted
(:func:`aseml_zif.convert_legacy_model`); the current nequip model is then compiled with
``nequip-compile --mode aotinductor --target ase`` for the device. Both results are cached in
``$ASEML_ZIF_CACHE`` (default ``~/.cache/aseml_zif``), under a key made of the source file's
SHA-256, the dtype, the device type, the torch and nequip versions and, on the CPU, the number
of torch threads: a ``.nequip.pt2`` only runs on the platform, device and torch it was built
with, and a CPU build is made for the thread count of the process that asks for it (set it
first: ``torch.set_num_threads``, ``aseml-zif ... --threads``).
"""
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from .._checksum import file_sha256
from ..errors import CompileError, ModelError
from .current import conversion_record, load_current
from .formats import LEGACY_FORMAT, file_format, first_line

__all__ = ["compiled_model_path", "converted_package_path", "load_compiled", "cache_dir"]

#: seconds between the "still compiling" lines
_PROGRESS_EVERY_S = 30.0


def cache_dir():
    """``$ASEML_ZIF_CACHE`` if set, else ``~/.cache/aseml_zif`` (shared with ``fetch_model``)."""
    from ..training.fetch import default_cache_dir

    return default_cache_dir()


def _cpu_threads(device):
    """torch's intra-op thread count for a CPU build, ``None`` for other devices."""
    import torch

    return torch.get_num_threads() if device.split(":")[0] == "cpu" else None


def _cache_key(source_sha, dtype, device):
    import nequip
    import torch

    device_type = device.split(":")[0]
    parts = [source_sha[:16], dtype, device_type, f"torch{torch.__version__}", f"nequip{nequip.__version__}"]
    threads = _cpu_threads(device)
    if threads is not None:
        parts.append(f"threads{threads}")
    return "-".join(p.replace("+", "_") for p in parts)


def converted_package_path(source, dtype=None, source_sha=None):
    """The cached conversion of a legacy model to a ``.nequip.zip`` (converted now if missing).

    Parameters
    ----------
    source : path-like
        Legacy model file.
    dtype : {None, "float32", "float64"}
        Precision of the conversion (``None``: the legacy model's own).
    source_sha : str, optional
        SHA-256 of ``source`` when already known.
    """
    from .convert import convert_legacy_model
    from .legacy import load_legacy

    dtype = dtype or load_legacy(source, "cpu")[1].dtype
    source_sha = source_sha or file_sha256(source)
    target = cache_dir() / "converted" / f"{source_sha[:16]}-{dtype}.nequip.zip"
    if not target.is_file():
        convert_legacy_model(source, target, dtype=dtype)
    return target


def _run_compiler(package, output, device):
    """Run nequip-compile in a child process, printing a line every ~30 s; raise on failure.

    A CPU build is compiled with this process's torch thread count (``OMP_NUM_THREADS`` of the
    child): inductor writes its kernels for the count it compiles with, and a build made for two
    threads ran 1.6× slower on one thread than a build made for one (round-2 fast student, 272
    atoms: 16.2 against 10.4 ms per call in NVT MD, ``benchmarks/md_overhead.py``).
    """
    env = dict(os.environ)
    env.setdefault("TORCHINDUCTOR_CACHE_DIR", str(cache_dir() / "inductor"))
    threads = _cpu_threads(device)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    log_path = output.with_name(output.name + ".log")
    command = [sys.executable, "-m", "nequip.scripts.compile", str(package), str(output),
               "--device", device.split(":")[0] if device.startswith("cuda") else device,
               "--mode", "aotinductor", "--target", "ase"]
    target = f"{device}, {threads} thread{'s' * (threads != 1)}" if threads is not None else device
    print(f"compiling {package.name} with AOTInductor for {target}: this takes a few minutes, "
          f"once (log: {log_path})", flush=True)
    start = time.monotonic()
    with open(log_path, "w") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        done = threading.Event()

        def report():
            while not done.wait(_PROGRESS_EVERY_S):
                print(f"  still compiling ({time.monotonic() - start:.0f} s)", flush=True)

        reporter = threading.Thread(target=report, daemon=True)
        reporter.start()
        try:
            code = child.wait()
        finally:
            done.set()
            if child.poll() is None:  # interrupted: do not leave the compiler running
                child.kill()
    if code != 0 or not output.is_file():
        tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"nequip-compile failed (exit {code}): {tail[0]}")
    print(f"  compiled in {time.monotonic() - start:.0f} s: {output}", flush=True)


def compiled_model_path(path, device="cpu", dtype=None):
    """Path of the cached AOTInductor build of a model, compiling (and converting) it if needed.

    Parameters
    ----------
    path : path-like
        A legacy NequIP model (converted first), a ``.nequip.zip`` package or a ``.ckpt``.
    device : str
        ``"cpu"`` or ``"cuda[:N]"``: the build runs only there.
    dtype : {None, "float32", "float64"}
        For legacy models, the precision to convert to (``None``: the model's own).

    Returns
    -------
    pathlib.Path
        ``<cache>/compiled/<key>/model.nequip.pt2``.

    Raises
    ------
    ModelError
        The conversion is refused.
    CompileError
        Compiling failed (the message gives the log file).
    """
    from .legacy import load_legacy

    path = Path(path)
    source_sha = file_sha256(path)
    fmt = file_format(path)
    if fmt == LEGACY_FORMAT:
        dtype = dtype or load_legacy(path, "cpu")[1].dtype
        package = converted_package_path(path, dtype, source_sha)
    elif fmt in ("nequip-package", "nequip-checkpoint"):
        package = path
    else:
        raise ModelError(f"{path}: a {fmt} file cannot be compiled again")
    key = _cache_key(source_sha, dtype or "own", device)
    output = cache_dir() / "compiled" / key / "model.nequip.pt2"
    if output.is_file():
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=output.parent, suffix=".nequip.pt2")
    os.close(handle)
    tmp = Path(tmp)
    try:
        _run_compiler(package, tmp, device)
        os.replace(tmp, output)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise CompileError(f"{path}: cannot compile it ({first_line(exc)}; log: {tmp}.log)") from exc
    return output


def load_compiled(path, device, dtype=None):
    """(module, metadata) of the compiled build of ``path``; the eager model if compiling fails.

    The metadata describes the compiled file (path, format, the running nequip's version) but
    keeps the source's architecture and conversion record, and names the source in
    ``compiled_from``. Without a C++ compiler, or when compiling fails, one
    warning says why and the (converted) model runs eagerly instead.
    """
    from .loading import load_model

    path = Path(path)
    fmt = file_format(path)
    if shutil.which(os.environ.get("CXX", "g++")) is None and shutil.which("c++") is None:
        reason = "no C++ compiler (g++) found"
    else:
        try:
            compiled = compiled_model_path(path, device, dtype)
            module, metadata = load_current(compiled, "nequip-aotinductor", device)
            return module, _described_as_source(metadata, path, fmt, compiled)
        except CompileError as exc:
            reason = str(exc)
    warnings.warn(f"compile=True: {reason}; running the model without compiling", stacklevel=3)
    if fmt == LEGACY_FORMAT:
        from .legacy import load_legacy

        path = converted_package_path(path, dtype)
    return load_model(path, device)


def _described_as_source(metadata, source, fmt, compiled):
    """Compiled-file metadata carrying what the source file says about the model, and
    ``compiled_from`` (the source's name and SHA-256)."""
    import nequip

    from .legacy import load_legacy

    compiled_from = {"source": source.name, "sha256": file_sha256(source)}
    metadata = dataclasses.replace(metadata, nequip_version=nequip.__version__, path=Path(compiled),
                                   compiled_from=compiled_from)
    if fmt == LEGACY_FORMAT:
        legacy = load_legacy(source, "cpu")[1]
        record = dict(compiled_from, nequip_version=legacy.nequip_version)
        return dataclasses.replace(metadata, architecture=legacy.architecture, converted_from=record)
    record = conversion_record(source) if fmt == "nequip-package" else None
    return dataclasses.replace(metadata, converted_from=record)
