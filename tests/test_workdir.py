"""A build's own files: the lock, the resume cache, leftover version folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.errors import BuildLockedError
from rag.index.workdir import ResumeCache, build_lock, sweep

MANIFEST = {"embedding": {"model": "m", "dim": 4}, "chunker": {"chunk_chars": 500}}


def test_a_second_build_of_the_same_index_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "default"
    with build_lock(link):
        with pytest.raises(BuildLockedError, match="another build of .*default is running"):
            with build_lock(link):
                pass
        with build_lock(tmp_path / "other"):  # another index is independent
            pass
    with build_lock(link):  # released
        pass


def test_resume_cache_round_trip_and_damage(tmp_path: Path) -> None:
    cache = ResumeCache(tmp_path / "default", MANIFEST)
    assert cache.load("doc") is None
    cv, sv = np.eye(2, 4, dtype=np.float32), np.ones((3, 4), np.float32)
    cache.save("doc", cv, sv)
    loaded = cache.load("doc")
    assert loaded is not None
    np.testing.assert_array_equal(loaded[0], cv)
    np.testing.assert_array_equal(loaded[1], sv)
    assert not list(cache.folder.glob(".*.tmp"))  # nothing half-written is left
    (cache.folder / "doc.npz").write_bytes(b"\x00 not a zip")
    assert cache.load("doc") is None and not (cache.folder / "doc.npz").exists()
    cache.clear()
    assert not cache.folder.exists()


def test_resume_cache_is_keyed_by_model_and_chunker(tmp_path: Path) -> None:
    link = tmp_path / "default"
    other = {**MANIFEST, "chunker": {"chunk_chars": 300}}
    assert ResumeCache(link, MANIFEST).folder == ResumeCache(link, dict(MANIFEST)).folder
    assert ResumeCache(link, MANIFEST).folder != ResumeCache(link, other).folder


def test_sweep_keeps_only_the_live_version(tmp_path: Path) -> None:
    live, dead = tmp_path / ".default.v1-a", tmp_path / ".default.v2-b"
    live.mkdir()
    dead.mkdir()
    (tmp_path / "default").symlink_to(live.name)
    sweep(tmp_path / "default")
    assert live.is_dir() and not dead.exists()
