"""``cmpl check-videos`` names every broken file with its reason and nothing else."""

from __future__ import annotations

import shutil

from cmpl.cli import main
from cmpl.data.check import find_bad_videos, videos_to_check


def _broken_folder(tiny_synthetic, tmp_path):
    folder = tmp_path / "videos"
    shutil.copytree(tiny_synthetic / "videos" / "circle", folder / "circle")
    good = sorted((folder / "circle").glob("*.mp4"))
    (folder / "circle" / "zero.mp4").write_bytes(b"")
    (folder / "circle" / "text.mp4").write_text("this is not a video\n")
    data = good[0].read_bytes()
    (folder / "circle" / "truncated.mp4").write_bytes(data[: len(data) // 3])
    return folder, good


def test_finds_each_broken_file_with_a_reason(tiny_synthetic, tmp_path):
    folder, good = _broken_folder(tiny_synthetic, tmp_path)
    paths = videos_to_check(folder)
    assert len(paths) == len(good) + 3
    bad = dict(find_bad_videos(paths, workers=2, progress=False))
    assert {p.name for p in bad} == {"zero.mp4", "text.mp4", "truncated.mp4"}
    assert all(reason for reason in bad.values())


def test_cli_lists_bad_files_and_exits_non_zero(tiny_synthetic, tmp_path, capsys):
    folder, _ = _broken_folder(tiny_synthetic, tmp_path)
    assert main(["check-videos", str(folder), "--workers", "1"]) == 1
    out = capsys.readouterr()
    assert sorted(line.split("\t")[0].rsplit("/", 1)[-1] for line in out.out.splitlines()) == [
        "text.mp4",
        "truncated.mp4",
        "zero.mp4",
    ]
    assert "3 of" in out.err
    assert main(["check-videos", str(tiny_synthetic / "train.txt"), "--workers", "1"]) == 0
