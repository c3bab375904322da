"""Timelines of long videos: a generated two-minute video whose content changes at known times, scored by a
test double (a real module that decides the class from the mean colour, so the check is about the windows,
the streaming and the track, not about a tiny model's accuracy)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from cmpl.config import QUICK_OVERRIDES, load_config
from cmpl.data.decode import PyAVReader, decoded_frame_count
from cmpl.data.encode import write_video
from cmpl.data.sampling import ClipSpec
from cmpl.engine.timeline import plan_windows, segments
from cmpl.inference import TrainedRun

FPS = 4
CHANGES = (37.0, 81.0)  # seconds; off the window grid on purpose
DURATION = 120.0
CLASSES = ["red", "green", "blue"]


class MeanColour(nn.Module):
    """Logits = each channel's mean over the clip: the dominant colour wins."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 10 * x.mean(dim=(2, 3, 4))


def colour_video(path: Path) -> Path:
    rng = np.random.default_rng(0)
    n = int(DURATION * FPS)
    times = np.arange(n) / FPS
    segment = np.searchsorted(np.asarray(CHANGES), times, side="right")
    frames = rng.integers(30, 90, size=(n, 32, 32, 3), dtype=np.uint8)
    frames[np.arange(n), :, :, segment] += 120  # the dominant channel
    frames[:, 10:20, 10:20] = rng.integers(
        0, 255, size=(n, 1, 1, 3), dtype=np.uint8
    )  # a flickering distractor
    write_video(path, frames, FPS, options={"qp": "10"})
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return colour_video(tmp_path_factory.mktemp("timeline") / "two_minutes.mp4")


@pytest.fixture
def run(tmp_path: Path) -> TrainedRun:
    config = load_config(None, [*QUICK_OVERRIDES, "model.primary.frames=4", "model.primary.stride=2"])
    return TrainedRun(config, CLASSES, MeanColour().eval(), torch.device("cpu"), tmp_path)


def test_the_timeline_finds_each_change_within_one_stride(run, video):
    stride = 2.0
    timeline = run.timeline(video, window_seconds=4.0, stride_seconds=stride, top_k=2)
    assert timeline.duration == pytest.approx(DURATION)
    assert len(timeline.windows) == 1 + int((DURATION - 4.0) / stride)  # 59 windows, the last ends at 2:00
    assert [w.top[0][0] for w in timeline.windows[:3]] == ["red"] * 3
    assert [g.label for g in timeline.segments] == CLASSES
    assert timeline.segments[0].start == 0 and timeline.segments[-1].end == pytest.approx(DURATION)
    for change, (before, after) in zip(CHANGES, itertools.pairwise(timeline.segments), strict=True):
        assert before.end == after.start
        assert abs(after.start - change) <= stride, (change, after.start)
    # streaming: a window's frames (16 at stride 2 = 8 read) and the next ones, never the video's 480
    assert timeline.frames_held_peak <= 16
    assert timeline.frame_shape == (3, 32, 32)


def test_three_crops_and_defaults(run, video):
    timeline = run.timeline(video, crops=3)
    span = run.clip_spec.span / FPS  # 2 s: one clip per window, windows every second
    assert timeline.window_seconds == span and timeline.stride_seconds == span / 2
    assert [g.label for g in timeline.segments] == CLASSES


def test_windows_cover_the_video_with_the_networks_clips():
    from cmpl.data.decode import VideoMeta

    meta = VideoMeta(num_frames=100, fps=10.0, width=32, height=32)
    plan = plan_windows(meta, ClipSpec(4, 2), window_s=2.0, stride_s=1.0)  # 20 frames: two 8-frame clips
    assert plan.starts[:3] == [0.0, 1.0, 2.0] and plan.ends[-1] == 10.0 and len(plan.starts) == 9
    assert plan.clips[0].shape == (2, 4) and plan.clips[0].tolist() == [[0, 2, 4, 6], [12, 14, 16, 18]]
    short = plan_windows(meta, ClipSpec(4, 2), window_s=0.4, stride_s=5.0)  # shorter than a clip: centred
    assert short.clips[1].tolist() == [[48, 50, 52, 54]]
    tiny = plan_windows(VideoMeta(5, 10.0, 32, 32), ClipSpec(4, 2), window_s=2.0, stride_s=1.0)
    assert len(tiny.starts) == 1 and tiny.clips[0].max() == 4  # a video shorter than a window: one, clamped


def test_segments_smooth_a_one_window_blip():
    probs = torch.tensor([[0.9, 0.1]] * 4 + [[0.2, 0.8]] + [[0.9, 0.1]] * 3 + [[0.1, 0.9]] * 4)
    starts = [float(i) for i in range(12)]
    ends = [s + 2 for s in starts]
    track = segments(probs, starts, ends, ["a", "b"], smooth=3, duration=13.0)
    assert [(g.label, g.windows) for g in track] == [
        ("a", 8),
        ("b", 4),
    ]  # the change: between centres 8 and 9
    assert track[1].start == 8.5 and track[-1].end == 13.0
    raw = segments(probs, starts, ends, ["a", "b"], smooth=1)
    assert [g.label for g in raw] == ["a", "b", "a", "b"]


def test_stream_gives_the_frames_read_gives(video):
    before = decoded_frame_count()
    with PyAVReader(video) as reader:
        list(reader.stream(range(0, 480, 7)))  # the last wanted is 476
        assert 477 <= decoded_frame_count() - before <= 480  # one pass, each frame once, then it stops
        wanted = [0, 1, 5, 200, 479, 480, 500]  # past the end: the last frame, as read() does
        streamed = list(reader.stream(wanted))
        assert [i for i, _ in streamed] == wanted
        np.testing.assert_array_equal(np.stack([f for _, f in streamed]), reader.read(wanted))
        with pytest.raises(ValueError, match="increasing"):
            list(reader.stream([3, 2]))
