"""Training and test datasets: clip shapes, one decode per item, paired windows, determinism, bad files."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from cmpl.data import datasets
from cmpl.data.annotations import VideoRecord
from cmpl.data.datasets import TestClips, TrainClips, collate_train
from cmpl.data.decode import VideoDecodeError, open_video
from cmpl.data.encode import write_video
from cmpl.data.sampling import ClipSpec
from tests.helpers import SHARED_DATA

STEP = 4  # frame i is a flat grey image of intensity i * STEP, so a clip's pixels say which frames it holds
NUM_FRAMES, WIDTH, HEIGHT = 40, 48, 40
F_SPEC, A_SPEC = ClipSpec(4, 4), ClipSpec(8, 2)  # small stand-ins for 8x8 and 16x4, both spanning 16 frames
REAL = SHARED_DATA / "real-clips"


def make_video(path: Path, num_frames: int = NUM_FRAMES, offset: int = 0) -> Path:
    """Frame i has intensity (i + offset) * STEP; key frames every 8 frames so reads seek."""
    frames = np.stack([np.full((HEIGHT, WIDTH, 3), (i + offset) * STEP, np.uint8) for i in range(num_frames)])
    write_video(path, frames, 25, options={"x264-params": "keyint=8:scenecut=0:qp=0"})
    return path


def frame_ids(clip: torch.Tensor) -> list[int]:
    """(T, C, H, W) -> the frame index each flat frame encodes."""
    return [round(v) for v in (clip.reshape(len(clip), -1).double().mean(dim=1) / STEP).tolist()]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> list[VideoRecord]:
    root = tmp_path_factory.mktemp("good")
    return [VideoRecord(make_video(root / f"v{k}.mp4"), label=k) for k in range(3)]


@pytest.fixture
def bad(good: list[VideoRecord], tmp_path: Path) -> list[VideoRecord]:
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("not a video\n" * 30)
    data = good[0].path.read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 2])
    return [VideoRecord(tmp_path / name, label=9) for name in ("zero.mp4", "truncated.mp4", "text.mp4")]


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test sees the once-per-process warnings as if it ran first, and a fixed torch seed (which the
    per-item randomness depends on)."""
    monkeypatch.setattr(datasets, "_warned", set())
    with torch.random.fork_rng():
        torch.manual_seed(0)
        yield


def train_set(
    records: list[VideoRecord], *, mode: str = "standard", max_offset_s: float = 0.2, seed: int = 0
):
    return TrainClips(
        records,
        [F_SPEC, A_SPEC],
        max_offset_s=max_offset_s,
        mode=mode,
        short_side_range=(32, 40),
        crop_size=32,
        seed=seed,
    )


class DecodeCounter:
    """Stands in for open_video, counting opened files and read() calls."""

    def __init__(self) -> None:
        self.opens: list[Path] = []
        self.reads: list[int] = []

    def __call__(self, path: Path, backend: str = "pyav"):  # type: ignore[no-untyped-def]
        self.opens.append(Path(path))
        handle = open_video(path, backend)
        read = handle.read

        def counted(indices):  # type: ignore[no-untyped-def]
            self.reads.append(len(indices))
            return read(indices)

        handle.read = counted  # type: ignore[method-assign]
        return handle


@pytest.mark.parametrize("mode", ["standard", "weak"])
def test_train_items_have_one_uint8_clip_per_spec(good: list[VideoRecord], mode: str) -> None:
    ds = train_set(good, mode=mode)
    assert len(ds) == 3
    for i in range(3):
        item = ds[i]
        assert set(item) == {"clips", "label", "index", "skipped"}
        f, a = item["clips"]
        assert f.shape == (4, 3, 32, 32) and a.shape == (8, 3, 32, 32)
        assert f.dtype == a.dtype == torch.uint8 and f.is_contiguous() and a.is_contiguous()
        assert item["label"] == item["index"] == i and item["skipped"] == []


@pytest.mark.parametrize("mode", ["standard", "weak"])
def test_one_decode_per_item_covers_every_clip(
    good: list[VideoRecord], mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = DecodeCounter()
    monkeypatch.setattr(datasets, "open_video", counter)
    ds = train_set(good, mode=mode, max_offset_s=0.4)
    for i in [0, 1, 2, 1]:
        ds[i]
    assert counter.opens == [good[i].path for i in [0, 1, 2, 1]]
    assert len(counter.reads) == 4
    assert all(n <= 4 + 8 for n in counter.reads)  # the union of both windows, each frame once


def test_weak_mode_resizes_the_decoded_frames_once(good: list[VideoRecord], monkeypatch) -> None:
    calls: list[tuple[int, ...]] = []
    original = datasets.weak_spatial

    def spy(frames: torch.Tensor, short_side: int, crop: int) -> torch.Tensor:
        calls.append(tuple(frames.shape))
        return original(frames, short_side, crop)

    monkeypatch.setattr(datasets, "weak_spatial", spy)
    train_set(good, mode="weak")[0]
    assert len(calls) == 1 and calls[0][1:] == (3, HEIGHT, WIDTH)


@pytest.mark.parametrize("mode", ["standard", "weak"])
def test_zero_offset_cuts_both_clips_from_the_same_window(good: list[VideoRecord], mode: str) -> None:
    ds = train_set(good, mode=mode, max_offset_s=0.0)
    starts = set()
    for draw in range(8):
        f, a = ds[1 + draw * len(ds)]["clips"]
        start = frame_ids(f)[0]
        assert frame_ids(f) == [start + 4 * k for k in range(4)]
        assert frame_ids(a) == [start + 2 * k for k in range(8)]
        starts.add(start)
    assert len(starts) > 1  # the shared window moves between draws


def test_offset_moves_the_second_window_within_the_bound(good: list[VideoRecord]) -> None:
    ds = train_set(good, max_offset_s=0.2)  # 5 frames at 25 fps
    deltas = []
    for draw in range(20):
        f, a = ds[draw * len(ds)]["clips"]
        f_ids, a_ids = frame_ids(f), frame_ids(a)
        assert np.diff(f_ids).tolist() == [4] * 3 and np.diff(a_ids).tolist() == [2] * 7
        deltas.append(a_ids[0] - f_ids[0])
    assert max(map(abs, deltas)) <= 5 and len(set(deltas)) > 1


def test_items_depend_on_seed_and_key_only(good: list[VideoRecord]) -> None:
    def run(seed: int, torch_seed: int) -> list[torch.Tensor]:
        with torch.random.fork_rng():
            torch.manual_seed(torch_seed)
            ds = train_set(good, seed=seed, max_offset_s=0.4)
            n = len(ds)
            return [clip for key in [0, 1, 2, n, 2 * n] for clip in ds[key]["clips"]]

    first, again, other = run(0, 1), run(0, 2), run(1, 1)
    assert all(torch.equal(x, y) for x, y in zip(first, again, strict=True))
    assert not all(torch.equal(x, y) for x, y in zip(first, other, strict=True))
    # item 0 drawn again (keys n and 2n) gets fresh randomness
    assert not all(torch.equal(x, y) for x, y in zip(first[6:8], first[8:10], strict=True))


def test_bad_files_are_replaced_reported_and_warned_once(
    good: list[VideoRecord], bad: list[VideoRecord]
) -> None:
    records = [good[0], *bad, good[1], good[2], good[0], good[1]]
    ds = train_set(records)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # only the dataset's own once-per-file rule may silence a repeat
        items = {i: ds[i] for i in (1, 2, 3)}
        again = [ds[i] for i in (1, 2, 3)]
    for i, item in items.items():
        assert item["skipped"][0] == str(records[i].path)
        assert set(item["skipped"]) <= {str(r.path) for r in bad}
        assert item["index"] not in (1, 2, 3) and item["label"] == records[item["index"]].label
        assert item["clips"][0].shape == (4, 3, 32, 32)
    assert all(item["skipped"] for item in again)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 3
    for record in bad:
        assert sum(record.path.name in m for m in messages) == 1


def test_a_dataset_of_bad_files_raises(bad: list[VideoRecord]) -> None:
    ds = train_set(bad)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="looks broken"):
        ds[0]


def test_collate_stacks_each_clip_kind(good: list[VideoRecord], bad: list[VideoRecord]) -> None:
    ds = train_set([*good, bad[0]])
    with pytest.warns(UserWarning, match="zero.mp4"):
        batch = collate_train([ds[3], ds[0], ds[2]])
    f, a = batch.clips
    assert f.shape == (3, 4, 3, 32, 32) and a.shape == (3, 8, 3, 32, 32) and f.dtype == torch.uint8
    assert batch.label.dtype == torch.long and batch.label[1:].tolist() == [0, 2]
    assert batch.index.tolist()[1:] == [0, 2]
    assert batch.skipped[0] == str(bad[0].path) and set(batch.skipped) == {str(bad[0].path)}


def test_loader_with_workers_is_reproducible(good: list[VideoRecord]) -> None:
    def batches() -> list[torch.Tensor]:
        with torch.random.fork_rng():
            torch.manual_seed(5)
            loader = DataLoader(train_set(good * 2), batch_size=3, num_workers=2, collate_fn=collate_train)
            return [clip for batch in loader for clip in batch.clips]

    first, again = batches(), batches()
    assert [tuple(c.shape) for c in first] == [(3, 4, 3, 32, 32), (3, 8, 3, 32, 32)] * 2
    assert all(torch.equal(x, y) for x, y in zip(first, again, strict=True))


def test_unknown_mode_is_rejected(good: list[VideoRecord]) -> None:
    with pytest.raises(ValueError, match="mode"):
        train_set(good, mode="strong")


@pytest.mark.parametrize(("num_clips", "num_crops"), [(3, 3), (2, 1), (1, 3)])
def test_test_clips_give_every_view(
    good: list[VideoRecord], num_clips: int, num_crops: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = DecodeCounter()
    monkeypatch.setattr(datasets, "open_video", counter)
    ds = TestClips(good, F_SPEC, num_clips=num_clips, num_crops=num_crops, short_side=32, crop_size=32)
    item = ds[2]
    assert item["label"] == item["index"] == 2 and len(counter.reads) == 1
    clips = item["clips"]
    assert clips.shape == (num_clips * num_crops, 4, 3, 32, 32) and clips.dtype == torch.uint8
    starts = {3: [0, 12, 24], 2: [0, 24], 1: [12]}[num_clips]  # spread from the start to the end of 40 frames
    for v, view in enumerate(clips):
        assert frame_ids(view) == [starts[v // num_crops] + 4 * k for k in range(4)]


def test_test_clips_crops_differ_across_the_long_side(tmp_path: Path) -> None:
    path = tmp_path / "ramp.mp4"
    ramp = np.broadcast_to(np.linspace(0, 250, 64, dtype=np.uint8)[None, :, None], (32, 64, 3)).copy()
    write_video(path, np.stack([ramp] * 20), 25, options={"qp": "0"})
    ds = TestClips([VideoRecord(path, 0)], F_SPEC, num_clips=1, num_crops=3, short_side=32, crop_size=32)
    left, centre, right = (view.double().mean().item() for view in ds[0]["clips"])
    assert left < centre < right


def test_test_clips_raise_on_a_bad_file(good: list[VideoRecord], bad: list[VideoRecord]) -> None:
    ds = TestClips([good[0], bad[1]], F_SPEC, num_clips=2, num_crops=1, short_side=32, crop_size=32)
    with pytest.raises(VideoDecodeError, match=r"truncated\.mp4"):
        ds[1]


def test_paper_clips_from_a_real_video() -> None:
    path = REAL / "short_h264.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is absent (shared test data not available)")
    records = [VideoRecord(path, 0)]
    train = TrainClips(
        records,
        [ClipSpec(8, 8), ClipSpec(16, 4)],
        max_offset_s=1.0,
        mode="standard",
        short_side_range=(256, 320),
        crop_size=224,
    )
    f, a = train[0]["clips"]
    assert f.shape == (8, 3, 224, 224) and a.shape == (16, 3, 224, 224)
    test = TestClips(records, ClipSpec(8, 8), num_clips=2, num_crops=3, short_side=256, crop_size=256)
    assert test[0]["clips"].shape == (6, 8, 3, 256, 256)


def test_decoded_cache_gives_the_same_clips_and_decodes_each_video_once(
    good: list[VideoRecord], monkeypatch: pytest.MonkeyPatch
) -> None:
    kwargs = dict(
        specs=[F_SPEC, A_SPEC],
        max_offset_s=0.5,
        mode="standard",
        short_side_range=(40, 44),
        crop_size=32,
        seed=3,
    )
    plain, cached = TrainClips(good, **kwargs), TrainClips(good, cache_decoded=True, **kwargs)
    opened: list[str] = []
    real_open = datasets.open_video
    monkeypatch.setattr(
        datasets, "open_video", lambda path, backend: opened.append(path) or real_open(path, backend)
    )
    for key in range(2 * len(good)):
        for a, b in zip(plain[key]["clips"], cached[key]["clips"], strict=True):
            assert torch.equal(a, b)
    assert len(opened) == 2 * len(good) + len(good)  # plain: every draw; cached: once per video
    test_kwargs = dict(num_clips=2, num_crops=3, short_side=36, crop_size=32)
    torch.testing.assert_close(
        TestClips(good, F_SPEC, cache_decoded=True, **test_kwargs)[1]["clips"],
        TestClips(good, F_SPEC, **test_kwargs)[1]["clips"],
    )
