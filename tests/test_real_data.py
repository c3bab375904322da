"""The pipeline on real and realistically laid-out data, not only on the embedded synthetic set: real codec
output (H.264 from Kinetics, MPEG-4 in AVI), a real action dataset (Weizmann), unreadable files mixed into a
list, and a directory laid out exactly like the official UCF-101 download run through the paper's config."""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from cmpl.cli import main
from cmpl.commands.evaluate import evaluate_run
from cmpl.config import load_config
from cmpl.data.annotations import VideoRecord, read_class_names, write_class_names, write_path_label_list
from cmpl.data.augment import ClipAugment
from cmpl.data.datasets import TestClips, TrainClips
from cmpl.data.decode import VideoDecodeError, open_video
from cmpl.data.encode import write_video
from cmpl.data.prepare import PrepareSettings, prepare_dataset
from cmpl.data.sampling import ClipSpec
from cmpl.data.splits import balanced_split
from cmpl.data.synthetic import SYNTHETIC_CLASSES, render_video
from cmpl.engine.trainer import Trainer
from cmpl.inference import load_run
from cmpl.run_files import read_metrics
from tests.helpers import SHARED_DATA, fast_overrides, load_script

REAL_CLIPS = SHARED_DATA / "real-clips"
WEIZMANN = SHARED_DATA / "weizmann4"
REPO = Path(__file__).resolve().parents[1]
PAPER_SPECS = (ClipSpec(8, 8), ClipSpec(16, 4))  # F and A (paper Sec. 4.1)


def _videos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        pytest.skip(f"shared data not found: {folder}")
    found = sorted(p for p in folder.iterdir() if p.suffix in (".mp4", ".avi"))
    if not found:
        pytest.skip(f"no videos in {folder}")
    return found


def _real_clip_names() -> list[str]:
    return sorted(p.name for p in REAL_CLIPS.glob("*") if p.suffix in (".mp4", ".avi")) or ["<absent>"]


def test_prepared_copies_of_real_clips_read_the_same_frames(tmp_path: Path) -> None:
    """cmpl prepare on real codec output (incl. AVI with packed B-frames): same frame count, and frame i of the
    copy is frame i of the source up to compression error, clearly closer than frame i + 1 is."""
    videos = _videos(REAL_CLIPS)
    report = prepare_dataset(
        REAL_CLIPS, tmp_path, PrepareSettings(short_side=0, crf=18), workers=2, progress=False
    )
    assert report.encoded == len(videos) and not report.failed
    for video in videos:
        with open_video(video) as source, open_video(tmp_path / video.name) as copy:
            assert copy.meta == source.meta, video.name
            indices = list(range(0, source.meta.num_frames - 1, 7))
            original, copied = source.read(indices).astype(float), copy.read(indices).astype(float)
            following = source.read([i + 1 for i in indices]).astype(float)
            same, next_frame = np.abs(copied - original).mean(), np.abs(copied - following).mean()
            assert same < 3 and same < 0.6 * next_frame, (video.name, same, next_frame)


def _summary(results: dict) -> dict:
    return {
        k: results[k] for k in ("top1", "top5", "num_videos", "iterations", "bad_videos", "replaced_clips")
    }


# ------------------------------------------------------------------------------------- a. real clips


@pytest.mark.parametrize("name", _real_clip_names())
def test_real_clips_decode_sample_and_augment(name: str) -> None:
    """Paper sizes on real codec output: train clips in both modes, strong view, normalisation, 10x3 test."""
    path = REAL_CLIPS / name
    if not path.is_file():
        pytest.skip(f"real clips not found in {REAL_CLIPS}")
    records = [VideoRecord(path, 0)]
    augment = ClipAugment()
    for mode, short_sides in (("standard", (256, 320)), ("weak", (256, 256))):
        dataset = TrainClips(
            records, PAPER_SPECS, max_offset_s=10.0, mode=mode, short_side_range=short_sides, crop_size=224
        )
        item = dataset[1]
        assert item["skipped"] == [] and item["label"] == 0 and len(item["clips"]) == 2
        for clip, spec in zip(item["clips"], PAPER_SPECS, strict=True):
            assert clip.dtype == torch.uint8 and clip.shape == (spec.num_frames, 3, 224, 224)
            assert clip.float().std() > 5  # real picture content, not a blank decode
            strong = augment.strong(clip[None])
            assert strong.dtype == torch.uint8 and strong.shape == (1, *clip.shape)
            x = augment.normalize(strong)
            assert x.dtype == torch.float32 and x.shape == (1, 3, spec.num_frames, 224, 224)
            assert torch.isfinite(x).all()
    views = TestClips(records, PAPER_SPECS[0], num_clips=10, num_crops=3, short_side=256, crop_size=256)[0][
        "clips"
    ]
    assert views.dtype == torch.uint8 and views.shape == (30, 8, 3, 256, 256)
    assert not torch.equal(views[0], views[-1])  # first and last clip of the video differ


# --------------------------------------------------------------------------------------- b. Weizmann


def _weizmann_lists(root: Path) -> tuple[Path, int, int]:
    """A list-format dataset over the shared folders: actors 01-06 train, 07-09 test, and every
    ``actorNN_flip.mp4`` on the side of its ``actorNN.mp4`` (a mirror image in the test set would leak)."""
    classes = sorted(p.name for p in WEIZMANN.iterdir() if p.is_dir())
    train, test = [], []
    for label, name in enumerate(classes):
        for video in sorted((WEIZMANN / name).glob("*.mp4")):
            actor = int(re.fullmatch(r"actor(\d+)(_flip)?", video.stem).group(1))
            (train if actor <= 6 else test).append(VideoRecord(video, label))

    def base(r: VideoRecord) -> str:
        return f"{r.path.parent.name}/{r.path.stem.removesuffix('_flip')}"

    assert not {base(r) for r in train} & {base(r) for r in test}
    write_class_names(classes, root / "classes.txt")
    write_path_label_list(train, root / "train.txt", root)
    write_path_label_list(test, root / "test.txt", root)
    return root, len(train), len(test)


@pytest.mark.slow
def test_short_cmpl_run_on_weizmann(tmp_path: Path) -> None:
    videos = _videos(WEIZMANN / "bend")
    assert len(videos) == 18
    root, num_train, num_test = _weizmann_lists(tmp_path / "weizmann")
    run_dir = tmp_path / "run"
    overrides = [
        *fast_overrides(root, run_dir, iterations=2),
        "data.format=list",
        "data.short_side_range=[64,72]",  # frames are 64x64
        "data.crop_size=56",
        "data.weak_short_side=64",
        "data.time_offset_s=1.0",
        "eval.short_side=64",
        "eval.crop_size=64",
        "data.split_group_pattern=_flip$",  # a video and its mirror image are labeled together
    ]
    results = Trainer(load_config(None, overrides)).fit()
    saved = json.loads((run_dir / "results.json").read_text())
    assert _summary(saved) == _summary(results)
    assert saved["class_names"] == ["bend", "jumping_jack", "wave_one_hand", "wave_two_hands"]
    assert (num_train, num_test) == (48, 24)
    assert saved["num_videos"] == num_test and saved["bad_videos"] == [] and saved["replaced_clips"] == 0
    assert sum(map(sum, saved["confusion"])) == num_test
    labeled = {line.split()[0] for line in (run_dir / "labeled.txt").read_text().splitlines()}
    assert len(labeled) == 8 and {p.replace("_flip", "") for p in labeled} <= labeled  # 1 pair per class
    assert len((run_dir / "unlabeled.txt").read_text().splitlines()) == num_train - 8
    rows = read_metrics(run_dir, "train")
    assert [r["step"] for r in rows] == [1, 2] and all(np.isfinite(r["loss"]) for r in rows)


@pytest.mark.slow
@pytest.mark.parametrize("by_subject", [True, False], ids=["by-subject", "per-class"])
def test_folder_without_test_split_holds_one_out(tmp_path: Path, by_subject: bool) -> None:
    """A plain folder per class has no test set: data.test_fraction holds out whole actors (a video with its
    mirror image), writes them into the run, and `cmpl evaluate` scores the same videos later. With
    data.subject_pattern the held-out actors leave every class; without it they are drawn per class, and
    research/subject_shortcut.py counts the test videos whose actor is labeled as another class."""
    assert len(_videos(WEIZMANN / "bend")) == 18
    run_dir = tmp_path / "run"
    overrides = [
        *fast_overrides(WEIZMANN, run_dir, iterations=2),
        "data.format=folder",
        "data.short_side_range=[64,72]",
        "data.crop_size=56",
        "data.weak_short_side=64",
        "eval.short_side=64",
        "eval.crop_size=64",
        "data.split_group_pattern=_flip$",
        "data.test_fraction=0.34",
        *(["data.subject_pattern=actor\\d+"] if by_subject else []),
    ]
    results = Trainer(load_config(None, overrides)).fit()
    test, labeled, unlabeled = (
        [line.rsplit(maxsplit=1) for line in (run_dir / f"{name}.txt").read_text().splitlines()]
        for name in ("test", "labeled", "unlabeled")
    )
    assert results["num_videos"] == len(test) == 4 * 6  # 6 of 18 videos per class: 3 actors
    actor = {path: re.search(r"actor\d+", path).group(0) for path, _ in test + labeled + unlabeled}
    tested, trained = ({actor[p] for p, _ in videos} for videos in (test, labeled + unlabeled))
    if by_subject:
        assert len(tested) == 3 and len(trained) == 6 and not tested & trained
    else:  # 3 actors per class, whole pairs, so 12 of (class, actor) and never one of them trained on too
        tested_in_class, trained_in_class = (
            {(actor[p], y) for p, y in v} for v in (test, labeled + unlabeled)
        )
        assert len(tested_in_class) == 12 and not tested_in_class & trained_in_class
    rescored, _ = evaluate_run(load_run(run_dir, "cpu"), run_dir, 2, 1, progress=False)
    assert rescored.num_videos == len(test) and rescored.top1 == pytest.approx(results["top1"])
    counts = load_script("subject_shortcut").shortcut_counts(run_dir, r"actor\d+", "cpu")
    labeled_as = {actor[p]: {y for q, y in labeled if actor[q] == actor[p]} for p, _ in labeled}
    shared = sum(1 for p, y in test if actor[p] in labeled_as and y not in labeled_as[actor[p]])
    assert counts["shared"] == shared and counts["shared"] + counts["other"] == len(test)
    assert (
        shared > 0
    ) != by_subject  # the per-class split here puts a labeled actor into another class's test
    right = counts["shared_right"] + counts["other_right"]
    assert 100 * right / len(test) == pytest.approx(results["top1"])  # the same predictions as the run's
    if by_subject:  # --concentration reads the same answers, and the unlabeled clips' confident labels
        clustered = load_script("subject_shortcut").concentration_counts(run_dir, r"actor\d+", "cpu")
        assert clustered["tested"] == len(test) and clustered["clips"] == len(unlabeled)
        assert 100 * clustered["test_right"] / len(test) == pytest.approx(results["top1"])
        assert clustered["test_one_class"] <= clustered["test_by_subject"] <= len(test)
        assert clustered["pseudo_right"] <= clustered["confident"] <= len(unlabeled)


# ------------------------------------------------------------------------------------ c. bad videos


@pytest.mark.slow
def test_bad_videos_in_the_train_list_are_skipped_and_named(tiny_synthetic: Path, tmp_path: Path) -> None:
    """A zero-byte, a truncated and a text file among 12 good train videos (3 classes): training goes on, the
    run counts the replaced clips and names the three files in bad_videos.txt and results.json."""
    root = tmp_path / "mixed"
    bad = root / "bad"
    bad.mkdir(parents=True)
    names = read_class_names(tiny_synthetic / "classes.txt")[:3]
    data = (tiny_synthetic / "videos" / names[0] / "train_0000.mp4").read_bytes()
    (bad / "truncated.mp4").write_bytes(data[: len(data) // 2])  # moov atom at the end: cannot be opened
    (bad / "zero_bytes.mp4").write_bytes(b"")
    (bad / "text_file.mp4").write_text("this is not a video\n" * 50)
    bad_paths = sorted(str(p) for p in bad.iterdir())

    def synthetic(split: str, label: int, i: int) -> VideoRecord:
        return VideoRecord(tiny_synthetic / "videos" / names[label] / f"{split}_{i:04d}.mp4", label)

    train = [synthetic("train", c, i) for c in range(3) for i in range(4)]
    train += [VideoRecord(Path(p), c) for c, p in enumerate(bad_paths)]
    write_class_names(names, root / "classes.txt")
    write_path_label_list(train, root / "train.txt", root)
    write_path_label_list([synthetic("test", c, 0) for c in range(3)], root / "test.txt", root)

    def labeled_bad(seed: int) -> int:
        labeled, _ = balanced_split(train, 1, seed, class_names=names)
        return sum(str(r.path) in bad_paths for r in labeled)

    # A split that leaves all three bad files unlabeled: 3 steps draw all 12 unlabeled items once.
    seed = next(s for s in range(100) if labeled_bad(s) == 0)
    run_dir = tmp_path / "run"
    overrides = [*fast_overrides(root, run_dir, iterations=3), "data.format=list", f"data.split_seed={seed}"]
    with pytest.warns(UserWarning, match="skipping unreadable video") as caught:
        results = Trainer(load_config(None, overrides)).fit()
    messages = "\n".join(str(w.message) for w in caught)
    assert all(path in messages for path in bad_paths)
    assert results["iterations"] == 3 and results["num_videos"] == 3
    assert results["bad_videos"] == bad_paths
    assert sorted((run_dir / "bad_videos.txt").read_text().splitlines()) == bad_paths
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved["bad_videos"] == bad_paths and saved["replaced_clips"] == results["replaced_clips"]
    assert results["replaced_clips"] >= len(bad_paths)
    rows = read_metrics(run_dir, "train")
    assert rows[-1]["replaced_clips"] == results["replaced_clips"]
    assert all(np.isfinite(r["loss"]) for r in rows)

    # A bad file among the labeled videos would silently delete its class's only example: refuse to start.
    seed = next(s for s in range(100) if labeled_bad(s) == 1)
    overrides = [
        *fast_overrides(root, tmp_path / "refused", iterations=3),
        "data.format=list",
        f"data.split_seed={seed}",
    ]
    with pytest.raises(VideoDecodeError, match="1 labeled videos do not decode"):
        Trainer(load_config(None, overrides))


# -------------------------------------------------------------------------------- d. UCF-101 layout

UCF_CLASSES = ("ApplyEyeMakeup", "Basketball", "YoYo")  # real UCF-101 class names
UCF_TRAIN_GROUPS = (8, 9)  # the official split 1 tests on groups 1-7 and trains on 8-25
UCF_TEST_GROUPS = (1,)


def _write_xvid_avi(path: Path, frames: np.ndarray, fps: int = 25) -> None:
    """MPEG-4 Part 2 in AVI tagged XVID, as the UCF-101 files are (``write_video`` with the mpeg4 codec)."""
    write_video(
        path,
        frames,
        fps,
        codec="mpeg4",
        format="avi",
        timestamps=range(len(frames)),
        codec_tag="XVID",
        max_b_frames=1,
    )


def _make_ucf101(root: Path) -> Path:
    """``UCF-101/<Class>/v_<Class>_gXX_cYY.avi`` and ``ucfTrainTestlist/`` with CRLF lines, like the download.

    The real classInd numbers its 101 classes 1..101; here the 3 classes are 1..3 (the loader checks it)."""
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    class_ind, train, test = [], [], []
    for label, (name, synthetic) in enumerate(zip(UCF_CLASSES, SYNTHETIC_CLASSES[:3], strict=True), start=1):
        folder = root / "UCF-101" / name
        folder.mkdir(parents=True)
        class_ind.append(f"{label} {name}")
        for group in (*UCF_TEST_GROUPS, *UCF_TRAIN_GROUPS):
            rel = f"{name}/v_{name}_g{group:02d}_c01.avi"
            frames = render_video(synthetic, (label, group), size=48, num_frames=60)
            _write_xvid_avi(root / "UCF-101" / rel, np.ascontiguousarray(frames[:, 6:42]))  # 36x48, 4:3
            if group in UCF_TRAIN_GROUPS:
                train.append(f"{rel} {label}")  # trainlist: 1-based label; testlist: path only
            else:
                test.append(rel)
    for file, lines in (("classInd.txt", class_ind), ("trainlist01.txt", train), ("testlist01.txt", test)):
        (lists / file).write_bytes("".join(f"{line}\r\n" for line in lines).encode())
    return root


@pytest.mark.slow
def test_ucf101_layout_through_the_paper_config(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """`cmpl train ucf101/cmpl_r50_1pct data.root=...` as the README shows it, made tiny."""
    root = _make_ucf101(tmp_path / "ucf101")
    with av.open(str(next((root / "UCF-101").rglob("*.avi")))) as container:
        codec = container.streams.video[0].codec_context
        assert (codec.name, codec.codec_tag) == ("mpeg4", "XVID")
    run_dir = tmp_path / "run"
    config_file = "ucf101/cmpl_r50_1pct"
    overrides = [
        *fast_overrides(root, run_dir, iterations=2),
        "schedule.epochs=0",  # the config sets 200 epochs, which would override the iteration count
        "data.short_side_range=[36,40]",  # frames are 48x36
        "data.weak_short_side=36",
        "data.time_offset_s=1.0",
        "eval.short_side=36",
        "eval.crop_size=32",
    ]
    assert main(["train", str(config_file), *overrides]) == 0
    assert "top-1" in capsys.readouterr().out
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved["method"] == "cmpl" and saved["iterations"] == 2 and saved["bad_videos"] == []
    assert saved["class_names"] == list(UCF_CLASSES)
    assert saved["num_videos"] == len(UCF_CLASSES) * len(UCF_TEST_GROUPS)
    labeled = (run_dir / "labeled.txt").read_text().splitlines()
    assert sorted(line.split()[0].split("/")[-2] for line in labeled) == sorted(UCF_CLASSES)  # 1 per class
    assert all(re.search(r"UCF-101/\w+/v_\w+_g(08|09)_c01\.avi \d$", line) for line in labeled)
    unlabeled = (run_dir / "unlabeled.txt").read_text().splitlines()
    assert len(unlabeled) == len(UCF_CLASSES) * (len(UCF_TRAIN_GROUPS) - 1)
    resolved = load_config(run_dir / "config.yaml")
    assert resolved.data.format == "ucf101" and resolved.optim.weight_decay == pytest.approx(1e-3)
    assert (run_dir / "classes.txt").read_text().split() == list(UCF_CLASSES)
