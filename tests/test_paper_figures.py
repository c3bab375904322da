from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from cmpl.analysis.paper_figures import (
    ClassAccuracy,
    binned_gain,
    class_gap,
    cross_accuracy,
    drop_ratios,
    group_gaps,
    hold_frames,
    paired_class_gaps,
)
from cmpl.cli import main
from cmpl.config import load_config
from cmpl.engine.trainer import Trainer
from cmpl.run_files import read_metrics, read_unlabeled_scores
from tests.helpers import fast_overrides

NAMES = ["a", "b", "c", "d"]


def test_class_gap_sorts_from_the_small_networks_lead_to_its_deficit_and_skips_untested_classes():
    small = ClassAccuracy(NAMES, [50.0, 10.0, math.nan, 80.0])
    large = ClassAccuracy(NAMES, [20.0, 40.0, 30.0, 80.0])
    assert class_gap(small, large) == [("a", 30.0), ("d", 0.0), ("b", -30.0)]
    with pytest.raises(ValueError, match="different class lists"):
        class_gap(small, ClassAccuracy(["a", "b", "c", "x"], [0.0] * 4))


def test_class_gaps_over_subsets_average_per_class_and_per_group():
    pairs = {
        "seed0": (
            ClassAccuracy(NAMES, [50.0, 10.0, math.nan, 80.0]),
            ClassAccuracy(NAMES, [20.0, 40.0, 30.0, 80.0]),
        ),
        "seed1": (
            ClassAccuracy(NAMES, [40.0, 30.0, math.nan, 70.0]),
            ClassAccuracy(NAMES, [30.0, 40.0, 30.0, 90.0]),
        ),
    }
    gaps = paired_class_gaps(pairs)
    assert gaps.pairs == ["seed0", "seed1"]
    mean = gaps.mean()
    assert [(c, m) for c, m, _ in mean] == [("a", 20.0), ("d", -10.0), ("b", -20.0)]  # c: no pair scored it
    assert mean[0][2] == pytest.approx(10.0)  # a's gaps 30 and 10: sample sd 14.1, over sqrt(2)
    assert group_gaps(gaps, {"ad": ["a", "d"], "bc": ["b", "c"]}) == {
        "ad": [15.0, -5.0],
        "bc": [-30.0, -10.0],
    }
    with pytest.raises(ValueError, match="not among"):
        group_gaps(gaps, {"x": ["a", "zz"]})
    with pytest.raises(ValueError, match="different class lists"):
        paired_class_gaps({"s": (pairs["seed0"][0], ClassAccuracy(["a", "b", "c", "x"], [0.0] * 4))})


def _fake_runs(root, accuracies: dict[str, list[float]], results: str = "results.json"):
    """Folders ``root/<name>`` holding just the per-class accuracy that class-gap reads."""
    for name, accuracy in accuracies.items():
        (root / name).mkdir(parents=True)
        saved = {"class_names": NAMES, "per_class_accuracy": accuracy, "top1": 0.0}
        (root / name / results).write_text(json.dumps(saved))


def test_report_class_gap_pairs_runs_by_name_and_reads_groups(tmp_path, capsys):
    _fake_runs(tmp_path / "small", {f"s{k}": [60.0 + k, 10.0, 50.0, 50.0] for k in range(3)}, "held.json")
    _fake_runs(tmp_path / "large", {f"s{k}": [50.0, 40.0 + k, 50.0, 50.0] for k in range(4)}, "held.json")
    (tmp_path / "groups.yaml").write_text("first: [a]\nrest: [b, c, d]\n")
    out = tmp_path / "fig1.png"
    argv = ["report", "class-gap", str(tmp_path / "small"), str(tmp_path / "large"), "--results", "held.json"]
    assert main([*argv, "--groups", str(tmp_path / "groups.yaml"), "-o", str(out)]) == 0
    numbers = json.loads(out.with_suffix(".json").read_text())
    assert list(numbers["pairs"]) == ["s0", "s1", "s2"]  # s3 has no small run
    assert numbers["classes"][0] == {
        "class": "a", "gap": 11.0, "stderr": pytest.approx(1 / math.sqrt(3)), "per_pair": [10.0, 11.0, 12.0]
    }  # fmt: skip
    assert numbers["groups"]["first"]["small_ahead"] == 3 and numbers["groups"]["first"]["p"] < 0.01
    assert numbers["groups"]["rest"]["mean"] == pytest.approx(-31.0 / 3)
    printed = capsys.readouterr().out
    assert "first: +11.0 ± 0.6 points (mean ± s.e.), small ahead in 3 of 3 pairs, p = 0.003" in printed
    assert out.stat().st_size > 5_000
    assert main([*argv, "--groups", "synthetic", "-o", str(out)]) == 2  # not the synthetic classes
    assert "synthetic" in capsys.readouterr().err
    assert main([*argv[:-2], "-o", str(out)]) == 2  # no results.json anywhere: one line
    assert capsys.readouterr().err.startswith("error:")


def test_hold_frames_keeps_every_stride_th_frame_and_the_shape():
    clips = torch.arange(8).view(1, 8, 1, 1, 1).expand(2, 8, 3, 4, 4).to(torch.uint8)
    frame_ids = lambda x: x[0, :, 0, 0, 0].tolist()  # noqa: E731
    assert frame_ids(hold_frames(clips, 1)) == list(range(8))
    assert frame_ids(hold_frames(clips, 2)) == [0, 0, 2, 2, 4, 4, 6, 6]
    assert frame_ids(hold_frames(clips, 8)) == [0] * 8  # a still clip
    assert hold_frames(clips, 4).shape == clips.shape
    with pytest.raises(ValueError, match="stride"):
        hold_frames(clips, 0)


def test_drop_ratios_are_relative_to_the_unchanged_clip():
    assert drop_ratios({4: 30.0, 1: 60.0, 2: 45.0}) == {1: 0.0, 2: 0.25, 4: 0.5}
    assert all(math.isnan(r) for r in drop_ratios({1: 0.0, 2: 0.0}).values())  # nothing to lose
    with pytest.raises(ValueError, match="stride 1"):
        drop_ratios({2: 10.0})


def test_binned_gain_means_per_bin_and_least_squares_line():
    names = ["a", "b", "c", "d", "e"]
    cmpl = ClassAccuracy(names, [60.0, 50.0, 40.0, 90.0, 70.0])
    fixmatch = ClassAccuracy(names, [50.0, 46.0, 40.0, 70.0, 70.0])  # gains 10, 4, 0, 20, 0
    auxiliary = ClassAccuracy(names, [12.0, 14.0, 15.0, 100.0, math.nan])  # e has no auxiliary score
    result = binned_gain(cmpl, fixmatch, auxiliary)
    assert result.centres == pytest.approx([0.125, 0.175, 0.975])  # 0.15 starts a bin; 1.0 joins the last
    assert result.mean_gain == [7.0, 0.0, 20.0]
    assert result.counts == [2, 1, 1]
    slope, intercept = np.polyfit(result.centres, result.mean_gain, 1)
    assert (result.slope, result.intercept) == pytest.approx((slope, intercept))
    assert result.slope > 0


@pytest.fixture(scope="module")
def supervised_run(tiny_synthetic, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "supervised"
    Trainer(load_config(None, fast_overrides(tiny_synthetic, run_dir, "supervised", iterations=2))).fit()
    return run_dir


@pytest.mark.slow
def test_report_commands_write_figure_and_numbers(supervised_run, tmp_path):
    run = str(supervised_run)
    out = tmp_path / "fig1.png"
    assert main(["report", "class-gap", run, run, "-o", str(out)]) == 0
    gaps = json.loads(out.with_suffix(".json").read_text())["classes"]
    assert len(gaps) == 12 and all(g["gap"] == 0.0 for g in gaps)  # a run against itself
    assert out.stat().st_size > 5_000

    out = tmp_path / "fig5.png"
    assert (
        main(
            ["report", "temporal", run, "--strides", "8", "--views", "1x1", "--device", "cpu", "-o", str(out)]
        )
        == 0
    )
    (curve,) = json.loads(out.with_suffix(".json").read_text()).values()
    assert set(curve["top1"]) == {"1", "8"}  # stride 1, the reference, is always measured
    expected = (
        (curve["top1"]["1"] - curve["top1"]["8"]) / curve["top1"]["1"] if curve["top1"]["1"] else math.nan
    )
    assert curve["drop"]["8"] == pytest.approx(expected, nan_ok=True)
    assert out.is_file()

    out = tmp_path / "fig7.png"
    assert main(["report", "gain", run, run, run, "-o", str(out)]) == 0
    numbers = json.loads(out.with_suffix(".json").read_text())
    assert sum(numbers["counts"]) == 12 and set(numbers["mean_gain"]) == {0.0}
    assert out.is_file()


SCORED = [
    "train.score_unlabeled_every=0.12",
    "train.score_unlabeled_videos=6",
]  # every step (9 per epoch), 6 clips


@pytest.mark.slow
def test_pseudo_label_and_sweep_reports(supervised_run, tiny_synthetic, tmp_path):
    fixmatch = tmp_path / "fixmatch"
    overrides = [
        *fast_overrides(tiny_synthetic, fixmatch, "fixmatch", iterations=2),
        "method.threshold=0.5",
        *SCORED,
    ]
    Trainer(load_config(None, overrides)).fit()

    out = tmp_path / "fig2.png"
    assert main(["report", "pseudo-labels", str(fixmatch), "-o", str(out)]) == 0
    curves = json.loads(out.with_suffix(".json").read_text())
    assert curves["fixmatch"]["step"] == [1, 2] and len(curves["fixmatch"]["correct"]) == 2
    assert all(
        0 <= c <= q <= 100
        for c, q in zip(curves["fixmatch"]["correct"], curves["fixmatch"]["quantity"], strict=True)
    )
    assert main(["report", "pseudo-labels", str(supervised_run), "-o", str(out)]) == 2  # never scored
    assert out.is_file()

    out = tmp_path / "fig4.png"
    assert (
        main(["report", "sweep", "method.threshold", str(fixmatch), str(supervised_run), "-o", str(out)]) == 0
    )
    points = json.loads(out.with_suffix(".json").read_text())
    assert [p["method.threshold"] for p in points] == [0.5, 0.9]  # sorted by value
    assert points[0]["top1"] == json.loads((fixmatch / "results.json").read_text())["top1"]
    assert main(["report", "sweep", "method.nope", str(fixmatch), "-o", str(out)]) == 2
    assert main(["report", str(fixmatch)]) == 0  # with the pseudo-label panel
    assert (fixmatch / "report" / "training.png").stat().st_size > 5_000


@pytest.mark.slow
def test_report_of_one_run_writes_its_plots(supervised_run, capsys):
    assert main(["report", str(supervised_run)]) == 0  # short for: cmpl report run RUN
    names = {"training.png", "per_class.png", "confusion.png"}
    assert {p.name for p in (supervised_run / "report").iterdir()} == names
    assert all((supervised_run / "report" / n).stat().st_size > 5_000 for n in names)
    assert capsys.readouterr().out.count("wrote") == 3


@pytest.mark.parametrize(
    "figure", ["run", "class-gap", "pseudo-labels", "sweep", "temporal", "cross-accuracy", "gain"]
)
def test_each_documented_figure_is_a_figure_not_a_run_folder(figure, capsys):
    """``cmpl report FIGURE`` names the figure; only other words are the shorthand for ``report run RUN``."""
    with pytest.raises(SystemExit) as exit_:
        main(["report", figure, "--help"])
    assert exit_.value.code == 0
    assert f"cmpl report {figure}" in capsys.readouterr().out


@pytest.mark.slow
def test_cross_accuracy_keeps_only_the_clips_the_auxiliary_labels_at_tau(tmp_path):
    """Step 5: A is confident on clips 0 and 2 (0.9 reaches tau, 0.89 does not), so it labels half the clips;
    its labels are right on one of them, the primary's predictions on both, FixMatch's on neither. Step 10: no
    clip reaches tau, so only the labeled share has a point there."""
    truth, videos = [0, 1, 2, 3], ["v0", "v1", "v2", "v3"]
    cmpl_steps = {
        5: {
            "pseudo_label": [0, 1, 1, 3],
            "pseudo_confidence": [0.95, 0.89, 0.9, 0.1],
            "prediction": [0, 0, 2, 0],
        },
        10: {"pseudo_label": [0, 1, 2, 3], "pseudo_confidence": [0.5] * 4, "prediction": [0, 1, 2, 3]},
    }
    fixmatch_steps = {5: [1, 1, 1, 3], 10: [0, 1, 2, 3]}
    for name, roles_at in (
        ("cmpl", lambda step: {"primary": cmpl_steps[step], "auxiliary": {}}),
        ("fixmatch", lambda step: {"primary": {"prediction": fixmatch_steps[step]}}),
    ):
        (tmp_path / name).mkdir()
        lines = [
            json.dumps(
                {"step": step, "threshold": 0.9, "truth": truth, "videos": videos, "roles": roles_at(step)}
            )
            for step in (5, 10)
        ]
        (tmp_path / name / "unlabeled_scores.jsonl").write_text("\n".join(lines) + "\n")
    curves = cross_accuracy(tmp_path / "cmpl", tmp_path / "fixmatch")
    assert curves == {
        "labeled": ([5, 10], [50.0, 0.0]),
        "auxiliary": ([5], [50.0]),
        "primary": ([5], [100.0]),
        "fixmatch": ([5], [0.0]),
    }


def test_cross_accuracy_report_scores_cmpl_and_fixmatch_on_the_same_clips(tiny_synthetic, tmp_path, capsys):
    """Fig. 6 from eval-mode scorings: threshold 0, so A labels every scored clip and each curve is the plain
    accuracy of its network on the 6 scored videos."""
    runs = {}
    for method in ("cmpl", "fixmatch"):
        runs[method] = tmp_path / method
        overrides = [
            *fast_overrides(tiny_synthetic, runs[method], method, iterations=3),
            "method.threshold=0.0",
        ]
        Trainer(load_config(None, [*overrides, *SCORED])).fit()
    out = tmp_path / "fig6.png"
    assert main(["report", "cross-accuracy", str(runs["cmpl"]), str(runs["fixmatch"]), "-o", str(out)]) == 0
    curves = json.loads(out.with_suffix(".json").read_text())
    scorings = read_unlabeled_scores(runs["cmpl"])
    assert len(scorings[0]["videos"]) == 6 and [s["step"] for s in scorings] == [1, 2, 3]
    for name, role, run in (
        ("auxiliary", "auxiliary", "cmpl"),
        ("primary", "primary", "cmpl"),
        ("fixmatch", "primary", "fixmatch"),
    ):
        expected = [
            100 * np.mean(np.array(s["roles"][role]["prediction"]) == np.array(s["truth"]))
            for s in read_unlabeled_scores(runs[run])
        ]
        assert curves[name] == {"step": [1, 2, 3], "accuracy": pytest.approx(expected)}, name
    assert curves["labeled"] == {"step": [1, 2, 3], "share": [100.0, 100.0, 100.0]}
    assert "the auxiliary labels 100.0 % of the scored clips" in capsys.readouterr().out
    train_mode = read_metrics(runs["cmpl"], "train")  # per-batch statistics stay in metrics.jsonl
    assert "pl_correct_primary" in train_mode[-1]
    assert read_metrics(runs["cmpl"], "unlabeled")[-1]["quantity_primary"] == 1.0
    assert main(["report", "cross-accuracy", str(tmp_path / "nothing"), "-o", str(out)]) == 2


def test_report_on_a_folder_without_results_is_one_error_line(tmp_path, capsys):
    assert main(["report", "class-gap", str(tmp_path), str(tmp_path), "-o", str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err.startswith("error:")
    assert main(["report", str(tmp_path)]) == 2
    assert "no training metrics" in capsys.readouterr().err
