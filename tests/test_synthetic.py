"""Tests for the embedded synthetic action-video dataset (tiny settings so the file runs in seconds)."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import av
import numpy as np
import pytest

from cmpl.cli import main
from cmpl.config import load_config
from cmpl.data import annotations, decode, synthetic
from cmpl.data.encode import write_video
from cmpl.data.synthetic import (
    _APPEARANCE_CLASSES,
    _MOTION_CLASSES,
    _MOTION_PAIRS,
    SYNTHETIC_CLASSES,
    SYNTHETIC_VERSIONS,
    make_synthetic,
    render_video,
    render_video_with_mask,
    synthetic_class_groups,
)
from cmpl.engine.run_data import load_dataset

SMALL = {"train_per_class": 2, "test_per_class": 1, "size": 32, "num_frames": 24, "fps": 25, "seed": 3}


def _make(root: Path, **overrides: object) -> Path:
    return make_synthetic(root, **{**SMALL, "workers": 1, **overrides})


def _list(path: Path) -> list[tuple[str, int]]:
    return [(rel, int(label)) for rel, label in (line.split() for line in path.read_text().splitlines())]


def _decode(path: Path) -> tuple[np.ndarray, av.video.stream.VideoStream]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(stream)])
        return frames, stream


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_classes_split_into_motion_and_appearance_groups() -> None:
    assert SYNTHETIC_CLASSES == _MOTION_CLASSES + _APPEARANCE_CLASSES
    assert len(set(SYNTHETIC_CLASSES)) == len(SYNTHETIC_CLASSES) == 12


def test_layout_lists_and_labels(tmp_path: Path) -> None:
    root = _make(tmp_path / "syn")
    assert (root / "classes.txt").read_text().splitlines() == SYNTHETIC_CLASSES
    for split, per_class in (("train", 2), ("test", 1)):
        entries = _list(root / f"{split}.txt")
        assert len(entries) == per_class * len(SYNTHETIC_CLASSES)
        for rel, label in entries:
            assert rel.startswith(f"videos/{SYNTHETIC_CLASSES[label]}/{split}_") and rel.endswith(".mp4")
            assert (root / rel).stat().st_size > 0
        labels = [label for _, label in entries]
        assert all(labels.count(c) == per_class for c in range(len(SYNTHETIC_CLASSES)))
    assert len(list((root / "videos").rglob("*.mp4"))) == 3 * len(SYNTHETIC_CLASSES)
    assert json.loads((root / "synthetic.json").read_text())["train_per_class"] == 2


def test_videos_decode_to_the_rendered_class_content(tmp_path: Path) -> None:
    root = _make(tmp_path / "syn")
    for i, (rel, label) in enumerate(_list(root / "test.txt")):
        frames, stream = _decode(root / rel)
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        assert frames.shape == (24, 32, 32, 3)
        assert stream.frames == 24 and stream.average_rate == 25
        # documented seed convention: test split is 1, index within the class is 0
        expected = render_video(
            SYNTHETIC_CLASSES[label], (SMALL["seed"], 1, label, 0), size=32, num_frames=24
        )
        other = render_video(SYNTHETIC_CLASSES[label], (SMALL["seed"], 1, label, 1), size=32, num_frames=24)
        err = np.abs(frames.astype(np.int16) - expected).mean()
        assert err < 10, (rel, err)  # compression loss (mostly of the pixel noise) only
        assert np.abs(frames.astype(np.int16) - other).mean() > 3 * err, (rel, i)


def test_same_seed_gives_identical_bytes_for_any_worker_count(tmp_path: Path) -> None:
    a = _tree(_make(tmp_path / "a", workers=1))
    b = _tree(_make(tmp_path / "b", workers=2))
    assert a == b
    c = _tree(_make(tmp_path / "c", seed=SMALL["seed"] + 1))
    assert c["train.txt"] == a["train.txt"]
    assert all(c[k] != a[k] for k in a if k.endswith(".mp4"))


def test_idempotent_then_regenerates_on_new_settings(tmp_path: Path) -> None:
    root = _make(tmp_path / "syn")
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    assert _make(root) == root
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == stamps

    _make(root, train_per_class=1)
    assert len(_list(root / "train.txt")) == len(SYNTHETIC_CLASSES)
    assert not list((root / "videos").rglob("train_0001.mp4"))  # stale videos of the old settings are gone
    assert json.loads((root / "synthetic.json").read_text())["train_per_class"] == 1


@pytest.mark.parametrize("pair", _MOTION_PAIRS)
def test_motion_pairs_differ_only_in_motion(pair: tuple[str, str]) -> None:
    num_frames = 32
    anchor = num_frames // 2
    for seed in range(3):
        a, b = (render_video(name, seed, size=40, num_frames=num_frames) for name in pair)
        np.testing.assert_array_equal(a[anchor], b[anchor])  # same look, same place at the anchor frame
        differs = (a != b).any(axis=-1)  # (T, H, W)
        assert differs[[0, -1]].any(axis=(1, 2)).all()  # ...but they move apart
        assert differs.mean(axis=(1, 2)).max() < 0.3  # only the object's pixels differ


def test_appearance_classes_differ_only_in_look() -> None:
    for seed in range(3):
        videos = {name: render_video(name, seed, size=40, num_frames=24) for name in _APPEARANCE_CLASSES}
        centroids = []
        for name in _APPEARANCE_CLASSES[1:]:
            differs = (videos["circle"] != videos[name]).any(axis=-1)
            assert differs.any(axis=(1, 2)).all() and differs.mean(axis=(1, 2)).max() < 0.25
            ys, xs = np.mgrid[0:40, 0:40]
            weight = differs.sum(axis=(1, 2))
            centroids.append(
                np.stack([(differs * ys).sum((1, 2)) / weight, (differs * xs).sum((1, 2)) / weight])
            )
        for c1, c2 in itertools.combinations(centroids, 2):
            assert np.abs(c1 - c2).max() < 3.5  # all differences sit on one shared trajectory


def test_objects_stand_out_from_the_background() -> None:
    for seed in range(4):
        circle = render_video("circle", seed, size=40, num_frames=8).astype(np.int16)
        square = render_video("square", seed, size=40, num_frames=8).astype(np.int16)
        # pixels inside one shape and not the other: object colour against background
        gap = np.abs(circle - square).max(axis=-1)
        assert np.percentile(gap[gap > 0], 90) > 50


def test_motion_rules_read_at_both_strides() -> None:
    scene = synthetic._scene(40, 72)
    for seed in range(5):
        u = np.random.default_rng(seed).random(5).tolist()

        def track(name: str, u: list[float] = u, seed: int = seed) -> synthetic._Motion:
            return synthetic._motion(name, u, np.random.default_rng(seed), scene)

        assert np.all(np.diff(track("move_up").cy) < 0) and np.all(np.diff(track("move_down").cy) > 0)
        slow = np.abs(np.diff(track("slide_slow").cx)).mean()
        fast = np.abs(np.diff(track("slide_fast").cx)).mean()
        assert 8 * slow > 0.9 and fast > 2 * slow  # slow still moves a pixel per stride-8 step
        cw, ccw = np.diff(track("rotate_cw").angle), np.diff(track("rotate_ccw").angle)
        assert np.all(cw > 0) and np.all(ccw < 0)
        assert 4 * cw.max() < math.pi / 2 and 8 * cw.max() < math.pi  # clear at stride 4, still < half a turn
        velocity = np.diff(track("oscillate").cy)
        assert (np.diff(np.sign(velocity)) != 0).sum() >= 4  # turns back and forth within 72 frames
        for name in _MOTION_CLASSES:
            m = track(name)
            assert m.cx.min() >= 0 and m.cx.max() < 40 and m.cy.min() >= 0 and m.cy.max() < 40


def _wrapped(angle_steps: np.ndarray) -> np.ndarray:
    """Angle steps as the nearest turn reads them, in (-pi, pi]."""
    return np.angle(np.exp(1j * angle_steps))


def test_v3_tempo_twins_alias_at_stride_8_and_part_at_stride_4() -> None:
    scene = synthetic._scene(40, 72)
    apparent8 = {"spin_cw": [], "spin_ccw": []}
    for seed in range(400):
        u = np.random.default_rng(seed).random(5).tolist()
        for name in apparent8:
            angle = synthetic._motion(name, u, np.random.default_rng(seed), scene).angle
            step4 = _wrapped(angle[4] - angle[0])
            assert abs(abs(step4) - math.pi / 2) < 0.2 and np.sign(step4) == (1 if name == "spin_cw" else -1)
            apparent8[name].append(_wrapped(angle[8] - angle[0]))
    # on every 8th frame the two directions show one distribution of turns: about half a turn either way
    cw, ccw = np.sort(np.abs(apparent8["spin_cw"])), np.sort(np.abs(apparent8["spin_ccw"]))
    assert np.all(cw > math.pi - 0.33) and np.abs(cw - ccw).max() < 0.02
    assert 0.4 < np.mean(np.array(apparent8["spin_cw"]) > 0) < 0.6  # cw looks cw half the time

    def centre(mask: np.ndarray) -> np.ndarray:
        ys, xs = np.mgrid[: mask.shape[1], : mask.shape[2]]
        weight = mask.sum((1, 2))
        return np.stack([(mask * xs).sum((1, 2)) / weight, (mask * ys).sum((1, 2)) / weight], axis=1)

    for seed in range(3):
        shake, hold = (centre(render_video_with_mask(n, seed)[1]) for n in ("shake", "hold"))
        offset = shake - hold  # the shake alone: the twins share the wandering path
        for start in range(8):
            jumps4 = np.linalg.norm(np.diff(offset[start::4], axis=0), axis=1)
            jumps8 = np.linalg.norm(np.diff(offset[start::8], axis=0), axis=1)
            assert jumps4.min() > 3.0 and jumps8.max() < 0.3


def test_versions_keep_v2_by_name_and_write_v3(tmp_path: Path) -> None:
    assert SYNTHETIC_VERSIONS["v2"] == SYNTHETIC_CLASSES
    v3 = SYNTHETIC_VERSIONS["v3"]
    assert len(set(v3)) == len(v3) == 12
    groups = synthetic_class_groups(v3)
    assert sorted(groups["tempo"] + groups["motion"] + groups["appearance"]) == sorted(v3)
    assert synthetic_class_groups(SYNTHETIC_CLASSES)["motion"] == _MOTION_CLASSES
    with pytest.raises(ValueError, match="synthetic version"):
        synthetic_class_groups(["a", "b"])
    root = _make(tmp_path / "v3", version="v3", train_per_class=1)
    assert (root / "classes.txt").read_text().splitlines() == v3
    assert json.loads((root / "synthetic.json").read_text())["classes"] == v3
    with pytest.raises(ValueError, match="unknown synthetic version"):
        _make(tmp_path / "v9", version="v9")


def test_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown synthetic class"):
        render_video("jump", 0)
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "odd.mp4", np.zeros((2, 31, 32, 3), np.uint8), 25)
    with pytest.raises(ValueError, match="uint8"):
        write_video(tmp_path / "float.mp4", np.zeros((2, 32, 32, 3), np.float32), 25)
    with pytest.raises(ValueError, match="size"):
        make_synthetic(tmp_path / "bad", size=33)


def test_write_video_round_trip(tmp_path: Path) -> None:
    frames = np.zeros((10, 24, 32, 3), np.uint8)
    frames[:, :, :, 0] = np.linspace(0, 250, 10, dtype=np.uint8)[:, None, None]
    write_video(tmp_path / "ramp.mp4", frames, fps=10)
    decoded, stream = _decode(tmp_path / "ramp.mp4")
    assert decoded.shape == frames.shape and stream.average_rate == 10
    assert np.abs(decoded.astype(np.int16) - frames).mean() < 4


def test_readable_through_the_project_decoder_and_list_reader(tmp_path: Path) -> None:
    root = _make(tmp_path / "syn")
    names = annotations.read_class_names(root / "classes.txt")
    ann = annotations.read_path_label_list(root / "train.txt", class_names=names)
    assert ann.class_names == SYNTHETIC_CLASSES and len(ann.records) == 2 * len(SYNTHETIC_CLASSES)
    record = ann.records[-1]
    with decode.open_video(record.path) as video:
        assert (video.meta.num_frames, video.meta.width, video.meta.height) == (24, 32, 32)
        clip = video.read([0, 8, 16, 23])
    full, _ = _decode(record.path)
    np.testing.assert_array_equal(clip, full[[0, 8, 16, 23]])


def test_command_line_and_config_choose_the_version(tmp_path: Path, capsys) -> None:
    v3 = SYNTHETIC_VERSIONS["v3"]
    counts = ["--train-per-class", "1", "--test-per-class", "1"]
    assert main(["make-synthetic", str(tmp_path / "cli"), "--version", "v3", *counts]) == 0
    assert (tmp_path / "cli" / "classes.txt").read_text().splitlines() == v3
    per_class = [
        "data.synthetic_train_per_class=1",
        "data.synthetic_test_per_class=1",
        "train.progress=false",
    ]
    config = load_config(None, [f"data.root={tmp_path / 'cfg'}", "data.synthetic_version=v3", *per_class])
    assert load_dataset(config, "test").class_names == v3
    assert main(["train", f"data.root={tmp_path}", "data.synthetic_version=v9"]) == 2
    assert "synthetic_version" in capsys.readouterr().err
