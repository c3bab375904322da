"""The trainer end to end on tiny synthetic videos: run directory contents, resume, evaluate, predict."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from cmpl.cli import main
from cmpl.commands.demo import plan_runs, summarize
from cmpl.config import SHIPPED_CONFIGS, load_config
from cmpl.data.annotations import VideoRecord
from cmpl.engine.checkpoint import load_checkpoint
from cmpl.engine.trainer import Trainer
from cmpl.errors import BadValueError
from cmpl.inference import load_method, load_run
from cmpl.run_files import read_metrics
from tests.helpers import fast_overrides


@pytest.fixture(scope="module")
def cmpl_run(tiny_synthetic, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "cmpl"
    config = load_config(None, fast_overrides(tiny_synthetic, run_dir))
    return run_dir, Trainer(config).fit()


@pytest.mark.slow
def test_run_directory_holds_everything(cmpl_run):
    run_dir, results = cmpl_run
    for name in (
        "config.yaml",
        "classes.txt",
        "labeled.txt",
        "unlabeled.txt",
        "metrics.jsonl",
        "results.json",
        "checkpoints/last.pt",
    ):
        assert (run_dir / name).is_file(), name
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    labeled = (run_dir / "labeled.txt").read_text().splitlines()
    assert len(labeled) == 12  # one per class
    assert len((run_dir / "unlabeled.txt").read_text().splitlines()) == 12 * 3
    saved = json.loads((run_dir / "results.json").read_text())
    assert saved["num_videos"] == 24 and len(saved["per_class_accuracy"]) == 12
    assert sum(map(sum, saved["confusion"])) == 24
    assert 0 <= saved["top1"] <= saved["top5"] <= 100
    assert results["top1"] == saved["top1"]


@pytest.mark.slow
def test_metrics_log_every_loss_and_pseudo_label_quality(cmpl_run):
    run_dir, _ = cmpl_run
    rows = read_metrics(run_dir, "train")
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for key in (
        "loss",
        "loss_sup_primary",
        "loss_sup_auxiliary",
        "loss_unsup_primary",
        "loss_unsup_auxiliary",
        "pl_mask_primary",
        "pl_mask_auxiliary",
        "pl_accuracy_primary",
        "pl_student_correct_primary",
        "lr",
        "clips_per_s",
    ):
        assert key in rows[-1], key
    lrs = [r["lr"] for r in rows]
    assert lrs[0] > lrs[-1]  # cosine decay after warm-up
    assert read_metrics(run_dir, "eval")[-1]["step"] == 4


@pytest.mark.slow
def test_resume_continues_from_the_checkpoint(tiny_synthetic, tmp_path):
    run_dir = tmp_path / "resume"
    Trainer(load_config(None, fast_overrides(tiny_synthetic, run_dir, "fixmatch", iterations=2))).fit()
    first = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert first["iteration"] == 2
    trainer = Trainer(
        load_config(None, fast_overrides(tiny_synthetic, run_dir, "fixmatch", iterations=4)), resume=True
    )
    assert trainer.progress.iteration == 2
    assert torch.equal(torch.get_rng_state(), first["rng"][0]["torch"])  # augmentation resumes its stream
    for key, value in first["method"].items():
        assert torch.equal(trainer.method.state_dict()[key].cpu(), value), key
    trainer.fit()
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["iteration"] == 4
    assert [r["step"] for r in read_metrics(run_dir, "train")] == [1, 2, 3, 4]


@pytest.mark.slow
def test_supervised_warmup_reads_no_unlabeled_clips_and_resumes_their_stream_exactly(
    tiny_synthetic, tmp_path
):
    def config(run_dir):
        overrides = fast_overrides(tiny_synthetic, run_dir, "cmpl", iterations=4)
        return load_config(None, [*overrides, "method.supervised_warmup=0.5", "train.eval_every=0"])

    Trainer(config(tmp_path / "whole")).fit()
    rows = read_metrics(tmp_path / "whole", "train")
    assert [("pl_mask_primary" in r, "loss_sup_auxiliary" in r) for r in rows] == [(False, True)] * 2 + [
        (True, True)
    ] * 2
    interrupted = Trainer(config(tmp_path / "split"))  # stopped after the warm-up, then resumed
    labeled, _ = interrupted.streams()
    for _ in range(2):
        interrupted.train_step(labeled, None)  # the warm-up steps that fit() takes
        interrupted.progress.iteration += 1
    interrupted._save()
    interrupted.close()  # as a process that died would: its lock on the folder goes with it
    Trainer(config(tmp_path / "split"), resume=True).fit()
    resumed = read_metrics(tmp_path / "split", "train")
    assert [r["step"] for r in resumed] == [3, 4]
    for a, b in zip(rows[2:], resumed, strict=True):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)


def test_a_step_uses_the_unlabeled_clips_it_is_given_even_in_the_warmup(tiny_synthetic, tmp_path):
    """`cmpl bench` calls train_step directly: it must time the method's full step, not a warm-up step."""
    overrides = fast_overrides(tiny_synthetic, tmp_path / "warm", "cmpl", iterations=4)
    trainer = Trainer(load_config(None, [*overrides, "method.supervised_warmup=0.5"]))
    labeled, unlabeled = trainer.streams()
    trainer.method.train()
    assert "pl_mask_primary" in trainer.train_step(labeled, unlabeled)
    assert "pl_mask_primary" not in trainer.train_step(labeled, None)
    trainer.close()


@pytest.mark.slow
def test_measuring_during_training_leaves_the_training_unchanged(tiny_synthetic, tmp_path):
    """Evaluation and unlabeled scoring draw nothing from the training's random stream: a run that measures
    itself every step trains exactly as one that never does."""

    def losses(name: str, *measure: str) -> list[float]:
        overrides = [*fast_overrides(tiny_synthetic, tmp_path / name, "cmpl", iterations=3), *measure]
        Trainer(load_config(None, overrides)).fit()
        return [r["loss"] for r in read_metrics(tmp_path / name, "train")]

    plain = losses("plain", "train.eval_every=0")
    measured = losses("measured", "train.eval_every=1", "train.score_unlabeled_every=0.01")
    assert len(plain) == 3 and measured == plain
    scorings = (tmp_path / "measured" / "unlabeled_scores.jsonl").read_text().splitlines()
    assert len(scorings) == 3 and len(read_metrics(tmp_path / "measured", "eval")) == 3


@pytest.mark.slow
def test_cli_evaluate_and_predict(cmpl_run, tiny_synthetic, capsys):
    run_dir, _ = cmpl_run
    assert main(["evaluate", str(run_dir), "--views", "1x3", "--device", "cpu"]) == 0
    out = json.loads((run_dir / "results_1x3.json").read_text())
    assert out["num_crops"] == 3 and out["num_videos"] == 24
    capsys.readouterr()
    video = tiny_synthetic / "videos" / "circle" / "test_0000.mp4"
    assert main(["predict", str(run_dir), str(video), "--top-k", "3", "--views", "1x1"]) == 0
    answer = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    probs = [t["prob"] for t in answer["top"]]
    assert len(probs) == 3 and probs == sorted(probs, reverse=True)
    assert 0 < sum(probs) <= 1.0 + 1e-3


@pytest.mark.slow
def test_cli_evaluate_scores_another_test_list_and_keeps_the_runs_own_results(
    cmpl_run, tiny_synthetic, tmp_path
):
    """`--test-list` given the dataset's own test list repeats the default evaluation, and writes apart."""
    run_dir, _ = cmpl_run
    assert main(["evaluate", str(run_dir), "--views", "2x1", "--device", "cpu"]) == 0
    own = json.loads((run_dir / "results_2x1.json").read_text())
    listed = tiny_synthetic / "test.txt"
    assert (
        main(["evaluate", str(run_dir), "--views", "2x1", "--device", "cpu", "--test-list", str(listed)]) == 0
    )
    other = json.loads((run_dir / f"results_2x1_{tiny_synthetic.name}_test.json").read_text())
    assert other["test_list"] == str(listed.resolve())
    assert other["top1"] == own["top1"] and other["confusion"] == own["confusion"]
    assert json.loads((run_dir / "results_2x1.json").read_text()) == own


def test_cli_evaluate_refuses_a_test_list_it_would_score_wrongly(cmpl_run, tiny_synthetic, tmp_path, capsys):
    run_dir, _ = cmpl_run
    names = (tiny_synthetic / "classes.txt").read_text().splitlines()
    video = tiny_synthetic / "videos" / names[0] / "test_0000.mp4"
    cases = {
        "reordered": ("\n".join(reversed(names)), f"{video} 0", "its classes are not the run's"),
        "unknown": (None, f"{video} -1", "needs a label on every line"),
        "missing": (None, f"{video.with_name('gone.mp4')} 0", "missing"),
    }
    for case, (classes, line, message) in cases.items():
        folder = tmp_path / case
        folder.mkdir()
        if classes is not None:
            (folder / "classes.txt").write_text(classes + "\n")
        (folder / "list.txt").write_text(line + "\n")
        code = main(["evaluate", str(run_dir), "--device", "cpu", "--test-list", str(folder / "list.txt")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and message in err and "\n" not in err, (case, err)
    assert not list(run_dir.glob("results_*_reordered_*.json"))


@pytest.mark.slow
def test_load_run_loads_the_auxiliary_network_on_its_own_frames(cmpl_run):
    """Analyses score CMPL's A from the checkpoint with A's sampling (16 frames here, F's 8)."""
    run_dir, _ = cmpl_run
    primary, auxiliary = load_run(run_dir, "cpu"), load_run(run_dir, "cpu", role="auxiliary")
    assert primary.network is not auxiliary.network
    records = [VideoRecord(run_dir, 0)]  # clip sampling only: nothing is decoded
    frames = {run.role: run.test_clips(records, 1, 1).spec.num_frames for run in (primary, auxiliary)}
    assert frames == {"primary": 8, "auxiliary": 16}
    with pytest.raises(BadValueError, match="has no 'teacher' network"):
        load_run(run_dir, "cpu", role="teacher")
    loaded = load_method(run_dir)  # an analysis reading several things of one run loads its checkpoint once
    for role, network in loaded[2].networks.items():
        assert load_run(run_dir, "cpu", role=role, loaded=loaded).network is network


def test_cli_reports_a_bad_key_in_one_line(capsys):
    assert main(["train", "demo", "method.treshold=0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: method.treshold: unknown key") and "\n" not in err


@pytest.mark.parametrize("module", ["cmpl", "cmpl.cli"])
def test_python_m_runs_the_command_line(module):
    """`python -m cmpl.cli make-synthetic ...` once exited 0 having done nothing (EVIDENCE e22's false start)."""
    done = subprocess.run(
        [sys.executable, "-m", module, "--help"], capture_output=True, text=True, check=True
    )
    assert "make-synthetic" in done.stdout


@pytest.mark.slow
def test_demo_quick_writes_table_json_and_plot(tiny_synthetic, tmp_path, capsys):
    out = tmp_path / "demo"
    assert (
        main(
            [
                "demo",
                "--quick",
                "--seeds",
                "1",
                "--output",
                str(out),
                f"data.root={tiny_synthetic}",
                "train.progress=false",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    for method in ("supervised", "fixmatch", "cmpl"):
        assert method in printed
    summary = json.loads((out / "results.json").read_text())
    assert set(summary["methods"]) == {"supervised", "fixmatch", "cmpl"}
    assert summary["labeled_subsets"] == {"cmpl_seed0": 0, "fixmatch_seed0": 0, "supervised_seed0": 0}
    assert "pseudo_label_mask" in summary["methods"]["cmpl"]
    assert "pseudo_label_mask" not in summary["methods"]["supervised"]
    assert summary["differences"]["cmpl - fixmatch"]["stderr"] is None  # one seed: no error estimate
    assert "(1 seed: no error estimate)" in printed
    assert (out / "demo.png").stat().st_size > 10_000


def test_demo_draws_a_labeled_subset_per_seed_unless_one_is_pinned(tmp_path):
    """The paper averages three sampled subsets: seed k trains on subset k; an explicit data.split_seed pins
    one subset for every seed (the old one-subset tables are `cmpl demo data.split_seed=0`)."""
    preset = SHIPPED_CONFIGS / "demo.yaml"
    plan, configs = plan_runs(preset, tmp_path, [0, 1, 2])
    assert all(c.data.split_seed == seed == c.train.seed for (_, seed), c in zip(plan, configs, strict=True))
    plan, configs = plan_runs(preset, tmp_path, [0, 1, 2], ["data.split_seed=7"])
    assert plan[0][0] == "cmpl" and {c.data.split_seed for c in configs} == {7}
    assert [c.train.output_dir for c in configs[:2]] == [
        str(tmp_path / "cmpl_seed0"),
        str(tmp_path / "cmpl_seed1"),
    ]


def test_demo_summary_pools_pseudo_label_accuracy_over_seeds():
    runs = {
        "supervised": [{"top1": 40.0}, {"top1": 50.0}],
        "cmpl": [{"top1": 45.0, "mask": 10.0, "correct": 8.0}, {"top1": 55.0, "mask": 0.0, "correct": 0.0}],
    }
    methods = summarize(runs)
    assert methods["supervised"] == {
        "top1_mean": 45.0,
        "top1_std": pytest.approx(7.0711, abs=1e-4),
        "seeds": 2,
    }
    assert summarize({"x": [{"top1": 45.0}]})["x"]["top1_std"] is None  # no spread from one seed
    cmpl = methods["cmpl"]
    assert (cmpl["pseudo_label_mask"], cmpl["pseudo_label_correct"]) == (5.0, 4.0)
    assert cmpl["pseudo_label_accuracy"] == pytest.approx(80.0)  # 8 of 10 right; not (80 + 0) / 2
    mixed = summarize({"cmpl": [{"top1": 45.0, "mask": 10.0, "correct": 8.0}, {"top1": 55.0}]})["cmpl"]
    assert (
        "pseudo_label_mask" not in mixed
    )  # a run that logged none: no pooled figure rather than a wrong one


@pytest.mark.slow
def test_bench_times_floor_and_end_to_end(tiny_synthetic, tmp_path, capsys):
    out = tmp_path / "bench.json"
    overrides = fast_overrides(tiny_synthetic, tmp_path / "bench")
    assert main(["bench", "demo", *overrides, "--steps", "2", "--warmup", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    for label in ("compute floor", "end to end", "data efficiency", "TFLOP/s", "peak memory"):
        assert label in printed
    figures = json.loads(out.read_text())
    assert figures["floor_ms"] > 0 and figures["end_to_end_ms"] > 0
    assert figures["clips_per_step"] == 2 + 2 * 2
    assert figures["tflop_per_step"] > 0


@pytest.mark.slow
def test_outside_unlabeled_folder_trains_without_pseudo_label_accuracy(tiny_synthetic, tmp_path):
    """Table A1's setup: the unlabeled set is a folder of raw videos of its own; with no ground truth the
    trainer logs how many pseudo-labels pass, never how many are right."""
    run_dir = tmp_path / "outside"
    overrides = [
        *fast_overrides(tiny_synthetic, run_dir, "fixmatch", iterations=2),
        "data.unlabeled_format=videos",
        f"data.unlabeled_root={tiny_synthetic / 'videos'}",
    ]
    Trainer(load_config(None, overrides)).fit()
    unlabeled = (run_dir / "unlabeled.txt").read_text().splitlines()
    assert len(unlabeled) == 12 * 6 and all(line.endswith(" -1") for line in unlabeled)
    last = read_metrics(run_dir, "train")[-1]
    assert "pl_mask_primary" in last and not any(key.startswith("pl_accuracy") for key in last)
