"""Download published models by name, checked against a pinned SHA-256."""
import os
import urllib.error
import urllib.request
from pathlib import Path

from .._checksum import file_sha256
from ..errors import FetchError

__all__ = ["MODELS", "fetch_model", "default_cache_dir"]

#: Published models: public URL, SHA-256 of the file, local file name.
MODELS = {
    "castel2024-nequip": {
        # Castel et al., Digital Discovery 3, 355 (2024): the NequIP model l2r6stress0
        # (legacy nequip 0.5.6 TorchScript), CC-BY 4.0, F.-X. Coudert's citable-data repository.
        "url": "https://github.com/fxcoudert/citable-data/raw/HEAD/"
               "162-Castel_DigitalDiscovery_2024/nequip_l2r6stress0.pth",
        "sha256": "adfec32fbca65e276dae58912a658d3d108372946fd6c60c0ec571bf62e8a1f0",
        "filename": "nequip_l2r6stress0.pth",
    },
}


def default_cache_dir():
    """``$ASEML_ZIF_CACHE`` if set, else ``~/.cache/aseml_zif``."""
    return Path(os.environ.get("ASEML_ZIF_CACHE", Path.home() / ".cache" / "aseml_zif"))


def fetch_model(name, cache_dir=None, timeout=60):
    """Return the local path of a published model, downloading it once if needed.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`, e.g. ``"castel2024-nequip"`` (the paper's NequIP model,
        loadable with ``aseml_zif.load_potential``).
    cache_dir : path-like, optional
        Where models are kept; default :func:`default_cache_dir`.
    timeout : float
        Network timeout (s).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    FetchError
        Unknown name; no network or HTTP error (the message gives the URL to fetch by hand
        and where to put the file); downloaded or cached file with the wrong SHA-256.
    """
    if name not in MODELS:
        raise FetchError(f"unknown model {name!r}; available: {sorted(MODELS)} (the shipped "
                         "'demo' and 'fast' need no fetching: load_potential('fast'))")
    entry = MODELS[name]
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = folder / entry["filename"]
    if target.exists():
        if file_sha256(target) == entry["sha256"]:
            return target
        raise FetchError(f"{target}: SHA-256 differs from the published {name!r}; delete it "
                         "and fetch again")
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(entry["url"], timeout=timeout) as response, \
                open(partial, "wb") as out:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise FetchError(f"cannot download {name!r} from {entry['url']} ({exc}); offline? "
                         f"download it by hand and save it as {target}") from exc
    digest = file_sha256(partial)
    if digest != entry["sha256"]:
        partial.unlink()
        raise FetchError(f"{entry['url']}: SHA-256 {digest} differs from the pinned "
                         f"{entry['sha256']}; file not kept")
    partial.replace(target)
    return target
