"""fetch_model: pinned SHA-256, checksum check and a clear error offline (no network used)."""
import hashlib
import urllib.error

import pytest

from aseml_zif.training import fetch
from aseml_zif.training.fetch import FetchError, fetch_model


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.paper_model
def test_pinned_checksum_is_the_published_file(paper_model_path):
    assert fetch.MODELS["castel2024-nequip"]["sha256"] == _sha(paper_model_path)


@pytest.mark.paper_model
def test_download_from_url_checked_and_cached(tmp_path, monkeypatch, paper_model_path):
    monkeypatch.setitem(fetch.MODELS["castel2024-nequip"], "url", paper_model_path.as_uri())
    path = fetch_model("castel2024-nequip", cache_dir=tmp_path)
    assert path == tmp_path / "nequip_l2r6stress0.pth"
    assert _sha(path) == _sha(paper_model_path)
    assert not list(tmp_path.glob("*.part"))

    def no_network(*args, **kwargs):
        raise AssertionError("a cached model must not be downloaded again")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", no_network)
    assert fetch_model("castel2024-nequip", cache_dir=tmp_path) == path


def test_checksum_mismatch_keeps_nothing(tmp_path, monkeypatch):
    impostor = tmp_path / "impostor.pth"
    impostor.write_bytes(b"not the published model")
    monkeypatch.setitem(fetch.MODELS["castel2024-nequip"], "url", impostor.as_uri())
    cache = tmp_path / "cache"
    with pytest.raises(FetchError, match="SHA-256"):
        fetch_model("castel2024-nequip", cache_dir=cache)
    assert not any(cache.iterdir())
    # a corrupted cached file is reported, not silently used
    (cache / "nequip_l2r6stress0.pth").write_bytes(b"corrupted")
    with pytest.raises(FetchError, match="delete it"):
        fetch_model("castel2024-nequip", cache_dir=cache)


def test_offline_error_names_url_and_target(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", offline)
    with pytest.raises(FetchError, match="offline") as info:
        fetch_model("castel2024-nequip", cache_dir=tmp_path)
    assert "citable-data" in str(info.value) and str(tmp_path) in str(info.value)
    assert not list(tmp_path.iterdir())


def test_unknown_name(tmp_path):
    with pytest.raises(FetchError, match="castel2024-nequip"):
        fetch_model("castel2024-allegro-huge", cache_dir=tmp_path)
