from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from cmpl.cli import main
from cmpl.data.decode import open_video
from cmpl.data.prepare import PrepareSettings, prepare_dataset, target_size
from tests.test_decode import frame_ids, make_video

KEEP = [i for i in range(40) if i not in (7, 8, 9, 20)]  # gaps: a variable-rate timeline


def _times(path: Path) -> list[float]:
    """Frame times from the first frame's (the reader indexes from there; AVI muxing may shift the start)."""
    with av.open(str(path)) as container:
        times = [frame.time for frame in container.decode(video=0)]
    return [t - times[0] for t in times]


def _key_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(packet.is_keyframe for packet in container.demux(video=0) if packet.size)


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    root = tmp_path / "source"
    (root / "walk").mkdir(parents=True)
    make_video(root / "walk" / "a.mp4", size=(64, 48), keep=KEEP)
    make_video(root / "walk" / "b.avi", 30, size=(64, 48), codec="mpeg4", options={"qscale": "2"})
    make_video(root / "walk" / "c.mp4", 30, size=(48, 64)).rename(root / "walk" / "c.webm")  # H.264 in MP4
    (root / "walk" / "broken.mp4").write_bytes(b"\x00not a video" * 100)
    (root / "train.txt").write_text("walk/a.mp4 0\nwalk/b.avi 0\n")
    return root


def test_target_size_keeps_aspect_and_never_enlarges():
    assert target_size(1280, 720, 320) == (568, 320)
    assert target_size(720, 1280, 320) == (320, 568)
    assert target_size(320, 240, 320) == (320, 240)  # already small enough
    assert target_size(641, 361, 0) == (640, 360)  # 0 keeps the size (made even)
    with pytest.raises(ValueError, match="short side"):
        PrepareSettings(short_side=31)


def test_prepare_mirrors_the_tree_resizes_and_keeps_frames_and_timestamps(source: Path, tmp_path: Path):
    dest = tmp_path / "prepared"
    settings = PrepareSettings(short_side=32, keyframe_interval=8, crf=10)  # near lossless: ids are exact
    report = prepare_dataset(source, dest, settings, workers=2)
    assert (report.encoded, report.copied, report.up_to_date) == (3, 1, 0)
    assert [Path(p).name for p, _ in report.failed] == ["broken.mp4"]
    assert "broken.mp4" in (dest / "prepare_failed.txt").read_text()
    assert (dest / "train.txt").read_text() == (source / "train.txt").read_text()

    expected = {"a.mp4": ("h264", 42, 32), "b.avi": ("h264", 42, 32), "c.webm": ("vp9", 32, 42)}
    for name, (codec, width, height) in expected.items():
        src, dst = source / "walk" / name, dest / "walk" / name
        with av.open(str(dst)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.name, stream.width, stream.height) == (codec, width, height), name
        assert _times(dst) == pytest.approx(_times(src), abs=2e-3), name  # with the gaps of a.mp4
        with open_video(src) as a, open_video(dst) as b:
            assert a.meta.num_frames == b.meta.num_frames
            indices = list(range(a.meta.num_frames))
            assert frame_ids(b.read(indices)) == frame_ids(a.read(indices)), name
        assert _key_frames(dst) >= len(_times(dst)) // 8, name
    assert not list(dest.rglob("*.partial"))


def test_rerun_keeps_finished_files_and_new_settings_redo_the_videos(source: Path, tmp_path: Path):
    dest = tmp_path / "prepared"
    prepare_dataset(source, dest, PrepareSettings(short_side=32), workers=1, progress=False)
    again = prepare_dataset(source, dest, PrepareSettings(short_side=32), workers=1, progress=False)
    assert (again.encoded, again.copied, again.up_to_date, len(again.failed)) == (0, 0, 4, 1)
    smaller = prepare_dataset(source, dest, PrepareSettings(short_side=16), workers=1, progress=False)
    assert (smaller.encoded, smaller.copied, smaller.up_to_date) == (3, 0, 1)  # train.txt is still fine
    with av.open(str(dest / "walk" / "a.mp4")) as container:
        assert container.streams.video[0].height == 16


def test_cli_prepare_exit_codes(source: Path, tmp_path: Path, capsys):
    assert main(["prepare", str(source), str(tmp_path / "out"), "--short-side", "32", "--workers", "1"]) == 1
    assert "1 failed" in capsys.readouterr().out
    (source / "walk" / "broken.mp4").unlink()
    assert main(["prepare", str(source), str(tmp_path / "out"), "--short-side", "32", "--workers", "1"]) == 0
    assert not (tmp_path / "out" / "prepare_failed.txt").exists()
    assert main(["prepare", str(source), str(source / "inside")]) == 2
    assert "inside the source" in capsys.readouterr().err
    assert main(["prepare", str(source), str(tmp_path / "x"), "--crf", "99"]) == 2


def test_prepared_frames_look_like_the_resized_source(tmp_path: Path):
    """Content check on a textured clip: the copy is the source, resized, up to compression error."""
    rng = np.random.default_rng(0)
    frames = np.repeat(rng.integers(0, 256, (1, 48, 64, 3), dtype=np.uint8), 12, axis=0)
    frames = np.repeat(np.repeat(frames[:, ::8, ::8], 8, axis=1), 8, axis=2)  # 8x8 blocks survive resizing
    root = tmp_path / "src"
    root.mkdir()
    from cmpl.data.encode import write_video

    write_video(root / "t.mp4", frames, fps=25)
    prepare_dataset(root, tmp_path / "dst", PrepareSettings(short_side=24), workers=1, progress=False)
    with open_video(tmp_path / "dst" / "t.mp4") as video:
        out = video.read([5])[0].astype(float)
    reference = frames[5, ::2, ::2].astype(float)  # 64x48 -> 32x24
    assert np.abs(out - reference).mean() < 12
