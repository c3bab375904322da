"""``cmpl label`` end to end on a tiny run, its suggestions, and ``data.extra_labels`` in every format it reads
(the review page's CSV, JSON, "path label" lists, Label Studio's export) with its one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cmpl.cli import main
from cmpl.commands.label import CSV_COLUMNS, LabelRow, read_rows, suggest, write_label_studio
from cmpl.config import ConfigError, config_to_dict, load_config
from cmpl.data.annotations import VideoRecord, read_class_names, read_path_label_list
from cmpl.data.extra_labels import apply_extra_labels, read_extra_labels
from cmpl.engine.run_data import prepare_run_data
from cmpl.engine.trainer import Trainer, config_changes
from tests.helpers import fast_overrides


@pytest.fixture(scope="module")
def tiny_run(tiny_synthetic, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "cmpl"
    Trainer(load_config(None, fast_overrides(tiny_synthetic, run_dir, iterations=2))).fit()
    return run_dir


def _csv(path: Path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_label_writes_one_row_per_unlabeled_video_and_resumes(tiny_run, tmp_path, capsys):
    out = tmp_path / "labels"
    args = [
        "label",
        str(tiny_run),
        "--output",
        str(out),
        "--views",
        "1x1",
        "--workers",
        "0",
        "--suggest",
        "5",
    ]
    assert main([*args, "--label-studio"]) == 0
    printed = capsys.readouterr().out
    unlabeled = read_path_label_list(tiny_run / "unlabeled.txt", tiny_run).records
    rows = _csv(out / "labels.csv")
    assert list(rows[0]) == CSV_COLUMNS
    assert [r["path"] for r in rows] == [str(r.path) for r in unlabeled]
    assert all(r["aux_label"] and r["agree"] in ("0", "1") for r in rows)  # a CMPL run: A's opinion too
    assert "F and A agree" in printed and "F and A disagree" in printed and "random samples" in printed
    assert (out / "review.html").is_file() and len(list((out / "thumbs").iterdir())) == len(rows)
    assert len([x for x in (out / "suggest.txt").read_text().splitlines() if not x.startswith("#")]) == 5
    assert len(json.loads((out / "label_studio.json").read_text())) == len(rows)
    # the suggestions are readable as data.extra_labels as they are
    assert len(read_extra_labels(out / "suggest.txt", read_class_names(tiny_run / "classes.txt"))) == 5

    # interrupted after 3 rows, the 4th half written: the next call labels only the rest
    jsonl = out / "labels.jsonl"
    lines = jsonl.read_text().splitlines()
    jsonl.write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])
    assert main(args) == 0
    assert f"({len(rows) - 3} now)" in capsys.readouterr().out
    assert sorted(r.path for r in read_rows(jsonl)) == sorted(r["path"] for r in rows)
    assert _csv(out / "labels.csv") == rows


@pytest.mark.slow
def test_label_normalises_each_network_as_predict_does(tiny_run, tmp_path, monkeypatch):
    """F's label probabilities are the ones ``cmpl.load(...).predict`` gives, with the network's own input
    normalisation (a torchvision network's mean and std are not the 3D-ResNets'); here a made-up one."""
    from cmpl import inference
    from cmpl.commands.label import label_collection
    from cmpl.data.augment import ClipAugment

    monkeypatch.setattr(inference, "input_augment", lambda *_: ClipAugment(mean=(0.1,) * 3, std=(0.5,) * 3))
    records = read_path_label_list(tiny_run / "unlabeled.txt", tiny_run).records[:3]
    rows = label_collection(
        tiny_run, tmp_path / "out", records, views=(1, 1), device="cpu", workers=0, thumbnails=False,
        progress=False,
    ).rows  # fmt: skip
    predicted = inference.load(tiny_run, "cpu").predict([r.path for r in records], views=(1, 1), top_k=1)
    for row, answer in zip(rows, predicted, strict=True):
        assert row.top[0] == (answer.top[0][0], pytest.approx(answer.top[0][1], abs=1e-5))


@pytest.mark.slow
def test_label_skips_unreadable_videos_and_lists_them(tiny_run, tiny_synthetic, tmp_path, capsys):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    good = sorted((tiny_synthetic / "videos").rglob("*.mp4"))[:2]
    out = tmp_path / "labels"
    args = ["label", str(tiny_run), str(broken), *map(str, good), "--output", str(out), "--views", "1x1"]
    assert main([*args, "--workers", "1", "--no-review"]) == 1  # done, with a failure listed
    assert "did not decode" in capsys.readouterr().err
    assert [r["path"] for r in _csv(out / "labels.csv")] == [str(p) for p in good]
    assert (out / "failed.txt").read_text().startswith(f"{broken}\t")
    assert all(r["true_label"] == "" for r in _csv(out / "labels.csv"))  # bare files: no ground truth


def _row(path: str, label: str, margin: float, aux: str | None) -> LabelRow:
    p = 0.5 + margin / 2
    return LabelRow(path, [(label, p), ("other", p - margin)], None if aux is None else (aux, 0.6), 0.9)


def test_suggest_takes_disagreements_then_small_margins_class_by_class():
    rows = [
        _row("a1", "a", 0.50, "a"),
        _row("a2", "a", 0.10, "a"),
        _row("a3", "a", 0.40, "b"),  # disagrees: first of class a
        _row("b1", "b", 0.05, "b"),
        _row("b2", "b", 0.30, "b"),
        _row("c1", "c", 0.20, "c"),
    ]
    assert [r.path for r in suggest(rows, 4)] == ["a3", "b1", "c1", "a2"]
    assert len(suggest(rows, 100)) == len(rows)
    no_aux = [_row("x", "a", 0.3, None), _row("y", "a", 0.1, None)]
    assert [r.path for r in suggest(no_aux, 1)] == ["y"]


NAMES = ["run", "jump", "wave hands"]


@pytest.fixture
def collection(tmp_path: Path) -> list[VideoRecord]:
    (tmp_path / "v").mkdir()
    return [VideoRecord(tmp_path / "v" / f"{i}.mp4", i % 3) for i in range(6)]


def test_extra_labels_read_every_format(collection, tmp_path):
    a, b = collection[0].path, collection[1].path
    files = {
        "page.csv": f'path,label\n{a},jump\n"{b}",wave hands\n',
        "list.txt": "# comment\nv/0.mp4 1\nv/1.mp4\twave hands\n",
        "page.json": json.dumps([{"path": str(a), "label": "jump"}, {"path": "v/1.mp4", "label": 2}]),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        found = read_extra_labels(tmp_path / name, NAMES)
        assert [(e.path, e.label) for e in found] == [(a, 1), (b, 2)], name


def test_label_studio_round_trip(collection, tmp_path):
    rows = [_row(str(r.path), NAMES[0], 0.2, None) for r in collection[:3]]
    tasks_file, xml = write_label_studio(rows, NAMES, tmp_path, tmp_path, "tiny")
    tasks = json.loads(tasks_file.read_text())
    assert tasks[0]["data"]["video"] == "/data/local-files/?d=v/0.mp4"
    assert tasks[0]["predictions"][0]["result"][0]["value"]["choices"] == ["run"]
    assert '<Choice value="wave hands"/>' in xml.read_text()
    # what Label Studio exports once annotated: task 0 relabelled, task 1 cancelled, task 2 untouched
    result = {"from_name": "action", "to_name": "video", "type": "choices", "value": {"choices": ["jump"]}}
    tasks[0]["annotations"] = [{"id": 1, "result": [result], "was_cancelled": False}]
    tasks[1]["annotations"] = [{"id": 2, "result": [result], "was_cancelled": True}]
    del tasks[0]["data"]["path"]  # data.video alone, a local-files URL, is enough
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    assert [(e.path, e.label) for e in read_extra_labels(tmp_path / "export.json", NAMES)] == [
        (collection[0].path, 1)
    ]


def test_extra_labels_move_videos_and_stop_on_a_stranger_or_an_unknown_class(collection, tmp_path):
    labeled, unlabeled = collection[:3], collection[3:]
    (tmp_path / "ok.txt").write_text("v/4.mp4 jump\nv/0.mp4\twave hands\n")
    new_labeled, new_unlabeled = apply_extra_labels(
        tmp_path / "ok.txt", NAMES, collection, labeled, unlabeled
    )
    assert {(r.path.name, r.label) for r in new_labeled} == {
        ("0.mp4", 2),
        ("1.mp4", 1),
        ("2.mp4", 2),
        ("4.mp4", 1),
    }
    assert [r.path.name for r in new_unlabeled] == ["3.mp4", "5.mp4"]

    (tmp_path / "stranger.txt").write_text("v/0.mp4 jump\nelsewhere/9.mp4 jump\n")
    with pytest.raises(ConfigError, match=r"^data.extra_labels: .*stranger.txt:2: .*9.mp4 is not among"):
        apply_extra_labels(tmp_path / "stranger.txt", NAMES, collection, labeled, unlabeled)
    (tmp_path / "class.csv").write_text("path,label\nv/0.mp4,swim\n")
    with pytest.raises(ConfigError, match=r"class.csv:2: class 'swim' is not among the run's 3 classes"):
        apply_extra_labels(tmp_path / "class.csv", NAMES, collection, labeled, unlabeled)


@pytest.mark.slow
def test_next_run_learns_from_extra_labels(tiny_run, tiny_synthetic, tmp_path, capsys):
    unlabeled = read_path_label_list(tiny_run / "unlabeled.txt", tiny_run).records
    names = read_class_names(tiny_run / "classes.txt")
    picked = unlabeled[:2]
    reviewed = tmp_path / "reviewed_labels.csv"
    reviewed.write_text("path,label\n" + "".join(f"{r.path},{names[r.label]}\n" for r in picked))
    run_dir = tmp_path / "next"
    config = load_config(None, [*fast_overrides(tiny_synthetic, run_dir), f"data.extra_labels={reviewed}"])
    data = prepare_run_data(config, run_dir)
    assert {r.path for r in picked} <= {r.path for r in data.labeled}
    assert not {r.path for r in picked} & {r.path for r in data.unlabeled}
    assert len(data.labeled) + len(data.unlabeled) == len(unlabeled) + len(
        read_path_label_list(tiny_run / "labeled.txt", tiny_run).records
    )
    # a bad file stops `cmpl train` with one line
    reviewed.write_text("path,label\n/nowhere/x.mp4,circle\n")
    overrides = [*fast_overrides(tiny_synthetic, tmp_path / "bad"), f"data.extra_labels={reviewed}"]
    assert main(["train", *overrides]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: data.extra_labels:") and "\n" not in err


def test_a_checkpoint_older_than_extra_labels_resumes_without_a_config_change():
    current = config_to_dict(load_config(None, ["data.split_seed=1"]))
    saved = {s: dict(v) for s, v in current.items()}
    del saved["data"]["extra_labels"]
    assert config_changes(saved, current, ("data",)) == []
    with_labels = config_to_dict(load_config(None, ["data.split_seed=1", "data.extra_labels=x.csv"]))
    assert config_changes(saved, with_labels, ("data",)) == ["data.extra_labels ('' -> 'x.csv')"]
