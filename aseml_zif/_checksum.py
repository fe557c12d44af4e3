"""SHA-256 of files: how models are pinned (fetch), recorded (run.json) and cached (compile)."""
import hashlib

__all__ = ["file_sha256"]


def file_sha256(path):
    """Hex SHA-256 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
