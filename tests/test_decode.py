"""Decoding by frame index: exact frames on real codecs, the seek path, clamping, variable frame rate and the
errors bad files must raise."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import av
import numpy as np
import pytest

from cmpl.data import decode
from cmpl.data.decode import VideoDecodeError, VideoMeta, open_video, scan_video
from cmpl.data.encode import write_video
from tests.helpers import SHARED_DATA

STEP = 4  # frame i is a flat grey image of intensity i * STEP, so the pixels say which frame came back
DATA = SHARED_DATA
REAL = DATA / "real-clips"


def make_video(
    path: Path,
    num_frames: int = 48,
    *,
    size: tuple[int, int] = (32, 32),
    fps: int = 25,
    codec: str = "libx264",
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    keep: Iterable[int] | None = None,
) -> Path:
    """A tiny video whose frame i has intensity i * STEP. ``keep`` drops frames (gaps in the timestamps)."""
    if options is None:
        options = {"x264-params": "keyint=6:min-keyint=6:scenecut=0:bframes=2:b-adapt=0:qp=2"}
    width, height = size
    ids = list(keep) if keep is not None else list(range(num_frames))
    frames = np.stack([np.full((height, width, 3), i * STEP, np.uint8) for i in ids])
    extra = {"gop_size": 6, "max_b_frames": 2} if codec == "mpeg4" else {}
    write_video(
        path,
        frames,
        fps,
        codec=codec,
        options=options,
        container_options=container_options,
        timestamps=ids,
        **extra,
    )
    return path


def frame_ids(frames: np.ndarray) -> list[int]:
    return [round(v) for v in frames.reshape(len(frames), -1).mean(axis=1) / STEP]


def naive_decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def count_decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the frames the reader pulls from the decoder (one entry per frame)."""
    pulled: list[int] = []
    original = decode.PyAVReader._timed_frames

    def counting(self: decode.PyAVReader):  # type: ignore[no-untyped-def]
        for item in original(self):
            pulled.append(item[0])
            yield item

    monkeypatch.setattr(decode.PyAVReader, "_timed_frames", counting)
    return pulled


FORMATS = {
    "h264-bframes.mp4": {},
    "h264-open-gop.mp4": {
        "options": {"x264-params": "keyint=10:scenecut=0:bframes=3:b-adapt=0:open-gop=1:qp=4"}
    },
    "h264-faststart.mp4": {"container_options": {"movflags": "faststart"}},
    "h264.mkv": {},
    "mpeg4-bframes.avi": {"codec": "mpeg4", "options": {"qmin": "1", "qmax": "1"}},
}


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    return {name: make_video(root / name, **kw) for name, kw in FORMATS.items()}


@pytest.mark.parametrize("name", FORMATS)
def test_every_index_and_random_sets_return_their_frames(videos: dict[str, Path], name: str) -> None:
    rng = np.random.default_rng(0)
    with open_video(videos[name]) as video:
        assert video.meta == VideoMeta(num_frames=48, fps=25.0, width=32, height=32)
        assert frame_ids(video.read(range(48))) == list(range(48))
        for i in range(0, 48, 5):  # one frame at a time: every read seeks
            assert frame_ids(video.read([i])) == [i]
        for _ in range(6):
            ids = rng.integers(0, 48, size=7)
            assert frame_ids(video.read(ids)) == list(ids)


def test_read_is_rgb_uint8_in_the_requested_order(tmp_path: Path) -> None:
    path = tmp_path / "red.mp4"
    red = np.zeros((32, 48, 3), np.uint8)
    red[..., 0] = 200
    write_video(path, np.stack([red] * 3), 25, options={"qp": "0"})
    with open_video(path) as video:
        frames = video.read([2, 0, 0])
    assert frames.dtype == np.uint8 and frames.shape == (3, 32, 48, 3)
    assert frames[..., 0].mean() > 190 and frames[..., 2].mean() < 10


def test_seek_decodes_only_from_the_key_frame_before(videos: dict[str, Path], monkeypatch) -> None:
    pulled = count_decoded(monkeypatch)
    with open_video(videos["h264-bframes.mp4"]) as video:  # key frames every 6 frames
        assert frame_ids(video.read([40, 38, 41])) == [40, 38, 41]
    # from key frame 36 to 41, plus the few frames looked at to know 41 is complete
    assert min(pulled) == 36
    assert len(pulled) <= 12


def test_unsorted_indices_with_repeats(videos: dict[str, Path]) -> None:
    with open_video(videos["h264-open-gop.mp4"]) as video:
        ids = [30, 2, 30, 47, 2, 11, 10, 9]
        assert frame_ids(video.read(ids)) == ids


def test_indices_past_the_end_repeat_the_last_frame(videos: dict[str, Path]) -> None:
    with open_video(videos["mpeg4-bframes.avi"]) as video:
        assert frame_ids(video.read([46, 47, 48, 60, 1000])) == [46, 47, 47, 47, 47]


def test_bad_indices_are_rejected(videos: dict[str, Path]) -> None:
    with open_video(videos["h264.mkv"]) as video:
        with pytest.raises(ValueError, match=">= 0"):
            video.read([3, -1])
        with pytest.raises(ValueError, match="at least one"):
            video.read([])


def test_variable_frame_rate_maps_time_to_index(tmp_path: Path) -> None:
    """Frames 10-12 and 30 are missing (timestamp gaps): an index in a gap shows the frame still on screen."""
    keep = [i for i in range(50) if i not in (10, 11, 12, 30)]
    path = make_video(tmp_path / "vfr.mkv", keep=keep)
    with open_video(path) as video:
        assert video.meta.num_frames == 50 and video.meta.fps == 25.0
        expected = [max(k for k in keep if k <= i) for i in range(50)]
        assert frame_ids(video.read(range(50))) == expected
        assert frame_ids(video.read([31, 12, 9])) == [31, 9, 9]


def test_variable_frame_rate_uses_the_average_rate(tmp_path: Path) -> None:
    keep = [i for i in range(50) if i not in (10, 11, 12, 30)]
    path = make_video(tmp_path / "vfr.mp4", keep=keep)
    with open_video(path) as video:
        fps, n = video.meta.fps, video.meta.num_frames
        assert n == len(keep) and fps == pytest.approx(n / 2.0, abs=0.6)
        times = {k: k / 25 for k in keep}
        expected = [max(k for k in keep if round(times[k] * fps) <= i) for i in range(n)]
        assert frame_ids(video.read(range(n))) == expected


@pytest.mark.parametrize("name", ["short_h264.mp4", "short_mpeg4.avi", "arm_wrestling.mp4"])
def test_real_clips_match_a_full_decode(name: str) -> None:
    path = REAL / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (shared test data not available)")
    reference = naive_decode(path)
    n = len(reference)
    rng = np.random.default_rng(1)
    index_sets = [
        rng.integers(0, n, size=6),  # unsorted, maybe with repeats
        np.array([n - 1, n - 3, n - 1, n - 2]),  # the very end
        np.array([n // 2 + 1, n // 2, n // 2, 0]),  # repeats and the start
        n - 64 + 8 * np.arange(8),  # a training window near the end
    ]
    with open_video(path) as video:
        assert video.meta.num_frames == n
        for ids in index_sets:
            np.testing.assert_array_equal(video.read(ids), reference[ids])


@pytest.mark.parametrize(
    ("name", "meta"),
    [
        ("short_h264.mp4", VideoMeta(300, 30.0, 340, 256)),
        ("short_mpeg4.avi", VideoMeta(164, 25.0, 320, 240)),
        ("arm_wrestling.mp4", VideoMeta(280, 28.0, 340, 256)),
    ],
)
def test_real_clip_metadata(name: str, meta: VideoMeta) -> None:
    path = REAL / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (shared test data not available)")
    with open_video(path) as video:
        assert video.meta == meta
    assert scan_video(path) is None


def _truncate(src: Path, dst: Path, fraction: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


@pytest.fixture
def bad_files(videos: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 20)
    (tmp_path / "folder.mp4").mkdir()
    return {
        "zero": tmp_path / "zero.mp4",
        "text": tmp_path / "text.mp4",
        "missing": tmp_path / "missing.mp4",
        "folder": tmp_path / "folder.mp4",
        "truncated": _truncate(videos["h264-bframes.mp4"], tmp_path / "truncated.mp4", 0.5),
    }


@pytest.mark.parametrize("kind", ["zero", "text", "missing", "folder", "truncated"])
def test_bad_files_raise_naming_the_file(bad_files: dict[str, Path], kind: str) -> None:
    path = bad_files[kind]
    with pytest.raises(VideoDecodeError, match=re.escape(path.name)), open_video(path) as video:
        video.read([0])
    reason = scan_video(path)
    assert reason is not None and path.name in reason


@pytest.mark.parametrize("name", ["h264-faststart.mp4", "h264.mkv"])
def test_lost_tail_is_an_error_not_a_repeated_frame(
    videos: dict[str, Path], tmp_path: Path, name: str
) -> None:
    """These containers open without their end; frames they do hold still read, the lost ones raise."""
    path = _truncate(videos[name], tmp_path / name, 0.8)
    with open_video(path) as video:
        assert video.meta.num_frames == 48
        assert frame_ids(video.read([0, 3])) == [0, 3]
        with pytest.raises(VideoDecodeError, match=re.escape(path.name)):
            video.read([46])
    assert path.name in (scan_video(path) or "")


def test_scan_accepts_good_files(videos: dict[str, Path]) -> None:
    assert [scan_video(p) for p in videos.values()] == [None] * len(videos)


def test_backends_are_a_registry(videos: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="pyav"):
        open_video(videos["h264.mkv"], backend="nope")
    opened: list[Path] = []

    def fake(path: Path) -> decode.PyAVReader:
        opened.append(path)
        return decode.PyAVReader(path)

    monkeypatch.setitem(decode.BACKENDS, "fake", fake)
    with open_video(str(videos["h264.mkv"]), backend="fake") as video:
        assert frame_ids(video.read([5])) == [5]
    assert opened == [videos["h264.mkv"]]
