"""The torchcodec reader (``data.backend=torchcodec``) against the PyAV reader on the same files.

torchcodec is an optional extra; CI installs it (``.ci/run``), so there a missing or broken torchcodec fails
these tests instead of skipping them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from cmpl.config import load_config
from cmpl.data import decode
from cmpl.data.annotations import VideoRecord
from cmpl.data.datasets import TestClips, TrainClips
from cmpl.data.decode import VideoDecodeError, VideoMeta, open_video, scan_video
from cmpl.data.sampling import ClipSpec
from cmpl.data.torchcodec_reader import TorchCodecReader, available
from cmpl.engine.trainer import Trainer
from tests.helpers import fast_overrides
from tests.test_decode import FORMATS, REAL, frame_ids, make_video

_missing = available()
if _missing is not None:
    if os.environ.get("CI"):
        raise RuntimeError(f"torchcodec must load in CI (.ci/run installs it): {_missing}")
    pytest.skip(f"torchcodec not usable here: {_missing}", allow_module_level=True)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    return {name: make_video(root / name, **kw) for name, kw in FORMATS.items()}


def test_avi_goes_to_pyav(videos: dict[str, Path]) -> None:
    """torchcodec 0.17 returns frame i-1 after a seek in MPEG-4 AVI with packed B-frames."""
    with open_video(videos["mpeg4-bframes.avi"], "torchcodec") as video:
        assert isinstance(video, decode.PyAVReader)
    with open_video(videos["h264.mkv"], "torchcodec") as video:
        assert isinstance(video, TorchCodecReader)


@pytest.mark.parametrize("name", FORMATS)
def test_every_index_and_random_sets_return_their_frames(videos: dict[str, Path], name: str) -> None:
    rng = np.random.default_rng(0)
    with open_video(videos[name], "torchcodec") as video:
        assert video.meta == VideoMeta(num_frames=48, fps=25.0, width=32, height=32)
        assert frame_ids(video.read(range(48))) == list(range(48))
        for i in range(0, 48, 5):
            assert frame_ids(video.read([i])) == [i]
        for _ in range(6):
            ids = rng.integers(0, 48, size=7)
            assert frame_ids(video.read(ids)) == list(ids)
        assert frame_ids(video.read([50, 47, 60])) == [47, 47, 47]  # past the end: the last frame
        with pytest.raises(ValueError):
            video.read([-1])


@pytest.mark.parametrize("name", ["short_h264.mp4", "arm_wrestling.mp4", "short_mpeg4.avi"])
def test_real_clips_match_pyav(name: str) -> None:
    """The same pixels (the AVI through PyAV)."""
    path = REAL / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (shared test data not available)")
    with open_video(path) as ref, open_video(path, "torchcodec") as video:
        assert video.meta == ref.meta
        n = ref.meta.num_frames
        ids = np.r_[np.random.default_rng(1).integers(0, n - 1, size=8), n - 64 + 8 * np.arange(8) - 1]
        got, want = video.read(ids).astype(int), ref.read(ids).astype(int)
        np.testing.assert_array_equal(got, want)
        assert video.read([n - 1]).shape == (1, ref.meta.height, ref.meta.width, 3)


@pytest.mark.parametrize("kind", ["zero", "text", "missing", "truncated"])
def test_bad_files_raise_naming_the_file(videos: dict[str, Path], tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.mp4"
    if kind == "zero":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a video\n" * 20)
    elif kind == "truncated":
        data = videos["h264-bframes.mp4"].read_bytes()
        path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoDecodeError, match=re.escape(path.name)), open_video(path, "torchcodec") as v:
        v.read([0, 47])
    assert path.name in (scan_video(path, "torchcodec") or "")


@pytest.mark.parametrize("name", FORMATS)
def test_datasets_give_the_same_clips_with_either_backend(videos: dict[str, Path], name: str) -> None:
    records = [VideoRecord(videos[name], 3)]
    specs = [ClipSpec(8, 2), ClipSpec(16, 1)]
    kw = dict(mode="standard", short_side_range=(32, 40), crop_size=24, seed=5, max_offset_s=0.5)
    a = TrainClips(records, specs, backend="pyav", **kw)[7]
    b = TrainClips(records, specs, backend="torchcodec", **kw)[7]
    assert not a["skipped"] and not b["skipped"]
    for x, y in zip(a["clips"], b["clips"], strict=True):
        assert torch.equal(x, y)
    test_kw = dict(num_clips=3, num_crops=3, short_side=32, crop_size=24)
    a = TestClips(records, specs[0], backend="pyav", **test_kw)[0]["clips"]
    b = TestClips(records, specs[0], backend="torchcodec", **test_kw)[0]["clips"]
    assert torch.equal(a, b)


def test_training_reads_through_torchcodec_in_loader_workers(tiny_synthetic, tmp_path) -> None:
    """data.backend=torchcodec reaches the readers, also in forked DataLoader workers."""
    overrides = [
        *fast_overrides(tiny_synthetic, tmp_path / "run", iterations=2),
        "data.backend=torchcodec",
        "data.num_workers=1",
        "train.device=cpu",
    ]
    results = Trainer(load_config(None, overrides)).fit()
    assert results["iterations"] == 2 and not results["bad_videos"]
