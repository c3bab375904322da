"""The scripts behind EVIDENCE.md's figures: what each setting's runs are given (evidence.py), how pseudo-labels
split over the synthetic class groups (class_groups.py), whether pooled seeds rank the methods (pool_seeds.py),
finished runs scored again on a new test list (rescore.py), and labels clustered by subject (subject_shortcut.py). The scripts under research/ are not a package, so they are loaded
by path. They test the investigation's tools, not the package, so they run apart: python -m pytest -m research."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cmpl.commands.demo import pseudo_label_summary
from cmpl.config import load_config
from cmpl.data.annotations import write_class_names
from cmpl.data.synthetic import SYNTHETIC_CLASS_GROUPS, SYNTHETIC_CLASSES, SYNTHETIC_VERSIONS
from cmpl.engine.trainer import Trainer
from tests.helpers import fast_overrides, load_script

pytestmark = pytest.mark.research

class_groups, common, evidence, network_agreement, pool_seeds, rescore, subject_shortcut = (
    load_script(name)
    for name in (
        "class_groups",
        "common",
        "evidence",
        "network_agreement",
        "pool_seeds",
        "rescore",
        "subject_shortcut",
    )
)
MOTION, APPEARANCE = SYNTHETIC_CLASSES.index("move_up"), SYNTHETIC_CLASSES.index("circle")


def _scoring(step: int, truth: list[int], label: list[int], confidence: list[float]) -> dict:
    head = {"pseudo_label": label, "pseudo_confidence": confidence}
    return {"step": step, "threshold": 0.9, "truth": truth, "roles": {"primary": head}}


def _predictions(
    step: int,
    truth: list[int],
    primary: list[int],
    auxiliary: list[int] | None = None,
    confidence: list[float] | None = None,
) -> dict:
    """Each network's arg-max; F is taught A's (a CMPL scoring) or, without ``auxiliary``, its own (FixMatch),
    with ``confidence`` (default: all confident)."""
    label = primary if auxiliary is None else auxiliary
    confidence = [1.0] * len(label) if confidence is None else confidence
    roles = {"primary": {"prediction": primary, "pseudo_label": label, "pseudo_confidence": confidence}}
    if auxiliary is not None:
        roles["auxiliary"] = {"prediction": auxiliary}
    return {"step": step, "threshold": 0.9, "truth": truth, "roles": roles}


def _write_scores(run: Path, scorings: list[dict]) -> Path:
    run.mkdir()
    (run / "unlabeled_scores.jsonl").write_text("".join(json.dumps(s) + "\n" for s in scorings))
    return run


def test_group_counts_split_clips_by_true_group_and_labels_by_named_group():
    # clip 0: motion, labeled right; 1: motion, labeled as an appearance class; 2: appearance, not
    # confident; 3: appearance, labeled as a motion class
    scoring = _scoring(
        10,
        [MOTION, MOTION, APPEARANCE, APPEARANCE],
        [MOTION, APPEARANCE, APPEARANCE, MOTION],
        [0.95, 0.9, 0.5, 0.99],
    )
    counts = class_groups.group_counts(scoring, list(SYNTHETIC_CLASSES))
    # the group's clips, confidently labeled, right, confident labels naming the group, all confident, and
    # confidently labeled as another class of the group
    assert counts["motion"].tolist() == [2, 2, 1, 2, 3, 0]
    assert counts["appearance"].tolist() == [2, 1, 0, 1, 3, 0]
    assert counts["move_up/move_down"].tolist() == [2, 2, 1, 2, 3, 0]


def test_group_counts_count_a_twin_called_its_twin_within_its_pair():
    """A slide_slow clip called slide_fast is wrong within the speed pair; one called oscillate is wrong
    outside it (but within the motion group)."""
    slow, fast, oscillate = (SYNTHETIC_CLASSES.index(c) for c in ("slide_slow", "slide_fast", "oscillate"))
    scoring = _scoring(0, [slow, slow, slow, fast], [fast, oscillate, slow, fast], [0.95, 0.95, 0.95, 0.5])
    counts = class_groups.group_counts(scoring, list(SYNTHETIC_CLASSES))
    assert counts["slide_slow/slide_fast"].tolist() == [4, 3, 1, 2, 3, 1]
    assert counts["motion"].tolist() == [4, 3, 1, 3, 3, 2]


def test_over_training_table_pools_the_seeds_at_each_step(tmp_path, capsys):
    """Seed 0 labels one of its two motion clips at step 10 (right), seed 1 both (one right): pooled, 3 of 4
    clips labeled and 2 of those 3 right, where a mean over seeds would say 75 % and 75 %. The seeds lie in
    two folders, as e06's and e16's do."""
    runs = {
        0: [_scoring(10, [MOTION, MOTION], [MOTION, APPEARANCE], [0.95, 0.1])],
        1: [_scoring(10, [MOTION, MOTION], [MOTION, APPEARANCE], [0.95, 0.95])],
    }
    for seed, scorings in runs.items():
        run = tmp_path / f"setting{seed}" / f"fixmatch_seed{seed}"
        run.mkdir(parents=True)
        (run / "results.json").write_text("{}")
        (run / "config.yaml").write_text("method:\n  name: fixmatch\n")
        write_class_names(SYNTHETIC_CLASSES, run / "classes.txt")
        (run / "unlabeled_scores.jsonl").write_text("".join(json.dumps(s) + "\n" for s in scorings))
    class_groups.print_pseudo_labels([tmp_path / "setting0", tmp_path / "setting1"], over_training=True)
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("fixmatch")]
    motion, appearance, move_pair = rows[:3]
    assert motion[:4] == ["fixmatch", "step", "10", "motion"]
    assert [float(v) for v in motion[4:8]] == pytest.approx([75.0, 66.7, 66.7, 0.0], abs=0.05)
    assert appearance[4:8] == ["0.0", "-", "33.3", "-"]  # no appearance clips: nothing labeled, no precision
    assert move_pair[3] == "move_up/move_down" and move_pair[4:6] == motion[4:6]


def test_wrong_labels_on_a_twin_pair_name_the_classes_taken_for_its_clips(capsys):
    """Only confident, wrong labels on the pair's own clips count; seeds and scorings pool."""
    names = list(SYNTHETIC_CLASSES)
    slow, fast, up = (names.index(c) for c in ("slide_slow", "slide_fast", "move_up"))
    scoring = _scoring(10, [slow, slow, fast, up], [up, fast, fast, slow], [0.95, 0.5, 0.95, 0.95])
    assert class_groups.wrong_labels(scoring, names, ("slide_slow", "slide_fast")) == {
        ("slide_slow", "move_up"): 1
    }
    scored = {
        "cmpl": {0: (names, {"step 10": scoring}), 1: (names, {"step 10": scoring, "step 20": scoring})}
    }
    class_groups.print_wrong_labels(scored)
    line = next(x for x in capsys.readouterr().out.splitlines() if "slide_slow/slide_fast" in x)
    assert line.split() == ["cmpl", "slide_slow/slide_fast", "6", "3", "slide_slow", "->", "move_up", "3"]


def test_pseudo_label_differences_pair_the_methods_by_seed_per_class_set(capsys):
    """Per seed, every scoring of a run pooled: FixMatch labels both slide clips of each scoring right; CMPL
    one of two in seed 0's scorings and none in seed 1's, where it labels nothing on the speed pair."""
    slow, fast = (SYNTHETIC_CLASSES.index(c) for c in ("slide_slow", "slide_fast"))
    names = list(SYNTHETIC_CLASSES)

    def run(*scorings: dict) -> dict[str, dict]:
        return {f"step {s['step']}": class_groups.group_counts(s, names) for s in scorings}

    right = _scoring(10, [slow, fast], [slow, fast], [0.95, 0.95])
    half = _scoring(10, [slow, fast], [slow, slow], [0.95, 0.95])
    unsure = _scoring(10, [slow, fast], [slow, fast], [0.5, 0.5])
    runs = {
        "fixmatch": {0: run(right, {**right, "step": 20}), 1: run(right)},
        "cmpl": {0: run(half, {**half, "step": 20}), 1: run(unsure)},
    }
    class_groups.print_pseudo_label_differences(runs)
    out = capsys.readouterr().out
    speed = out.split("slide_slow/slide_fast, precision")[1].split("slide_slow/slide_fast, right per clip")[0]
    assert "fixmatch             100.0   100.0 / 100.0" in speed
    assert "cmpl                  50.0   50.0 / -" in speed  # seed 1 labeled nothing: no precision
    assert "per-seed difference of precision" in speed and "-50.0        (1 seed" in speed
    per_clip = out.split("slide_slow/slide_fast, right per clip")[1].split("rotate_cw")[0]
    assert "cmpl                  25.0   50.0 / 0.0" in per_clip
    assert "cmpl - fixmatch" in per_clip and "-75.0 ± 25.0  (2 seeds" in per_clip


def test_over_training_names_a_run_that_never_scored_its_unlabeled_clips(tmp_path):
    run = tmp_path / "cmpl_seed0"
    run.mkdir()
    (run / "results.json").write_text("{}")
    (run / "config.yaml").write_text("method:\n  name: cmpl\n")
    with pytest.raises(SystemExit, match=r"cmpl_seed0.*score_unlabeled_every"):
        class_groups.print_pseudo_labels([tmp_path], over_training=True)


def test_per_class_table_reads_another_results_file_where_written_and_refuses_a_seed_twice_unless_labelled(
    tmp_path,
):
    names = list(SYNTHETIC_CLASSES)
    for folder, seed, accuracy in (("a", 0, 10.0), ("b", 1, 30.0), ("c", 1, 0.0)):
        run = tmp_path / folder / f"supervised_seed{seed}"
        run.mkdir(parents=True)
        own = {"class_names": names, "per_class_accuracy": [0.0] * len(names)}
        (run / "results.json").write_text(json.dumps(own))
        new = {"class_names": names, "per_class_accuracy": [accuracy] * len(names)}
        (run / "results_2x1_new_test.json").write_text(json.dumps(new))
    unscored = tmp_path / "a" / "fixmatch_seed0"  # finished, but not scored on the new list: left out
    unscored.mkdir()
    (unscored / "results.json").write_text(json.dumps(own))
    runs = class_groups.finished_runs(tmp_path / "a", tmp_path / "b", results="results_2x1_new_test.json")
    assert list(runs) == ["supervised"]
    names_read, table = class_groups.per_class_by_method(runs, results="results_2x1_new_test.json")
    assert names_read == names and table["supervised"][:, 0].tolist() == [10.0, 30.0]
    with pytest.raises(SystemExit, match="supervised seed 1 is in"):
        class_groups.finished_runs(tmp_path / "b", tmp_path / "c")
    labelled = class_groups.finished_runs(tmp_path / "b", Path(f"{tmp_path / 'c'}=16x4"))  # a variant, beside
    assert labelled == {
        "supervised": [tmp_path / "b/supervised_seed1"],
        "supervised 16x4": [tmp_path / "c/supervised_seed1"],
    }


def test_groups_pair_the_rows_by_seed_within_each_class_group(capsys):
    """Each group's per-seed means are paired by seed, also across a network row of another method."""
    names = list(SYNTHETIC_CLASSES)
    motion = np.array([c in SYNTHETIC_CLASS_GROUPS["motion"] for c in names])
    table = {
        "fixmatch": np.array([np.where(motion, 80.0, 20.0), np.where(motion, 70.0, 30.0)]),
        "cmpl/primary": np.array([np.where(motion, 70.0, 20.0), np.where(motion, 66.0, 30.0)]),
    }
    class_groups.print_groups(names, table, {"fixmatch": [3, 7], "cmpl": [3, 7]})
    motion_part, appearance_part = capsys.readouterr().out.split("appearance classes")
    assert "fixmatch              75.0   80.0 / 70.0" in motion_part
    assert "cmpl/primary - fixmatch    -7.0 ± 3.0  (2 seeds" in motion_part  # -10 and -4
    assert "cmpl/primary - fixmatch    +0.0 ± 0.0" in appearance_part
    speed_pair = appearance_part.split("slide_slow/slide_fast classes (2)")[1].split("rotate_cw")[0]
    assert "cmpl/primary - fixmatch    -7.0 ± 3.0" in speed_pair  # a pair of motion classes, as their group


def test_groups_follow_the_generator_version_of_the_runs(capsys):
    """Runs on v3's videos are split by v3's groups (tempo, motion, appearance), not v2's."""
    names = SYNTHETIC_VERSIONS["v3"]
    tempo = np.array([c in ("spin_cw", "spin_ccw", "shake", "hold") for c in names])
    table = {"cmpl": np.array([np.where(tempo, 90.0, 50.0)])}
    class_groups.print_groups(names, table, {"cmpl": [0]})
    out = capsys.readouterr().out
    assert "tempo classes (4)" in out and "appearance classes (6)" in out and "slide_slow" not in out
    assert "cmpl                  90.0" in out.split("tempo classes")[1].split("motion classes")[0]


def _confusion_run(
    run_dir: Path,
    called: dict[tuple[str, str], int],
    per_class: int = 20,
    names: list[str] = SYNTHETIC_CLASSES,
) -> Path:
    """A finished run whose results.json has ``per_class`` test videos a class of ``names``, all right except
    ``called``: (true class, class it was called) -> number of videos."""
    k = len(names)
    confusion = [[per_class if i == j else 0 for j in range(k)] for i in range(k)]
    for (true, said), n in called.items():
        i, j = names.index(true), names.index(said)
        confusion[i][i] -= n
        confusion[i][j] += n
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps({"class_names": names, "confusion": confusion}))
    return run_dir


def test_pairs_name_the_seeds_in_which_a_twin_class_was_taken_for_the_other(tmp_path, capsys):
    """More than half of a class's videos called its twin is a collapse; exactly half, or other classes, not."""
    _confusion_run(tmp_path / "cmpl_seed0", {("rotate_cw", "rotate_ccw"): 11, ("move_up", "move_down"): 10})
    _confusion_run(
        tmp_path / "cmpl_seed1", {("rotate_ccw", "rotate_cw"): 20, ("slide_fast", "oscillate"): 15}
    )
    assert class_groups.pair_collapses(tmp_path / "cmpl_seed0") == {("rotate_cw", "rotate_ccw"): 45.0}
    assert class_groups.pair_collapses(tmp_path / "cmpl_seed1") == {("rotate_ccw", "rotate_cw"): 0.0}
    class_groups.print_pair_collapses([tmp_path])
    out = capsys.readouterr().out
    assert (
        "rotate_cw -> rotate_ccw: [0: 45 %]   rotate_ccw -> rotate_cw: [1: 0 %]   (of 2 seeds; sign test p = 1)"
        in out
    )
    assert "slide_slow -> slide_fast: []   slide_fast -> slide_slow: []" in out


def test_pairs_and_pseudo_label_counts_take_the_twins_of_the_runs_generator_version(tmp_path, capsys):
    """v3 runs are split by v3's tempo twins (shake/hold, spin_cw/spin_ccw), not by v2's motion twins."""
    v3 = SYNTHETIC_VERSIONS["v3"]
    _confusion_run(tmp_path / "cmpl_seed0", {("hold", "shake"): 18}, names=v3)
    class_groups.print_pair_collapses([tmp_path])
    out = capsys.readouterr().out
    assert "shake -> hold: []   hold -> shake: [0: 10 %]" in out and "rotate_cw" not in out
    shake, hold = v3.index("shake"), v3.index("hold")
    counts = class_groups.group_counts(_scoring(10, [hold, hold], [shake, hold], [0.99, 0.99]), v3)
    assert set(counts) == {"tempo", "motion", "appearance", "spin_cw/spin_ccw", "shake/hold"}
    assert counts["shake/hold"].tolist() == [2, 2, 1, 2, 2, 1]  # one clip right, one called its twin


def test_subject_concentration_counts_labels_that_follow_who_performs_against_a_shuffled_deal():
    """Two subjects of two clips: one label per subject puts all four on their subject's commonest label; the
    labels that a right network gives (each subject shows both classes) only two. Dealt at random, the four
    labels land two alike on a subject with chance 1/3, so the shuffled mean is 2 + 2/3."""
    subjects = ["a", "a", "b", "b"]
    assert subject_shortcut.subject_concentration([0, 0, 1, 1], subjects) == 4
    assert subject_shortcut.subject_concentration([0, 1, 0, 1], subjects) == 2
    assert subject_shortcut.subject_concentration([], []) == 0
    shuffled = subject_shortcut.shuffled_concentration([0, 0, 1, 1], subjects)
    assert shuffled == pytest.approx(2 + 2 / 3, abs=0.25)
    assert shuffled == subject_shortcut.shuffled_concentration([0, 0, 1, 1], subjects)  # seeded: repeats


def test_concentration_over_training_reads_every_scoring_with_the_subjects_of_its_videos(tmp_path, capsys):
    """w14: each scoring's confident labels, with the subjects taken from the first line's video paths. At step
    10 one clip of each actor is labeled, both wrongly as class 1 (one class 2 of 2); at step 20 every clip is
    labeled right, so labels split evenly over the classes and over each actor's two clips."""
    videos = [f"/data/{c}/actor0{a}.mp4" for a in (1, 2) for c in ("bend", "jump")]
    truth = [0, 1, 0, 1]
    scorings = [
        {"videos": videos, **_scoring(10, truth, [1, 1, 1, 1], [0.95, 0.2, 0.97, 0.3])},
        _scoring(20, truth, truth, [0.99] * 4),
    ]
    run = _write_scores(tmp_path / "fixmatch_seed0", scorings)
    counts = subject_shortcut.concentration_over_training(run, r"actor\d+")
    assert counts[10]["confident"] == 2 and counts[10]["pseudo_right"] == 0
    assert counts[10]["pseudo_one_class"] == 2 and counts[10]["pseudo_by_subject"] == 2
    assert counts[20]["confident"] == 4 and counts[20]["pseudo_right"] == 4
    assert counts[20]["pseudo_one_class"] == 2 and counts[20]["pseudo_by_subject"] == 2
    subject_shortcut.print_over_training([run, run], r"actor\d+")  # two runs pool step by step
    rows = {line.split()[0]: line.split()[1::2] for line in capsys.readouterr().out.splitlines()[2:]}
    assert rows["10"] == ["50.0", "0.0", "100.0", "100.0", "100.0"]  # 4 of 8 clips labeled, all as class 1
    assert rows["20"][:4] == ["100.0", "100.0", "50.0", "50.0"]
    # dealt at random, an actor's two clips share a label with chance 1/3: 2/3 of the labels on average
    assert float(rows["20"][4]) == pytest.approx(200 / 3, abs=10)


def test_network_agreement_follows_cmpls_two_networks_and_compares_with_another_runs(tmp_path, capsys):
    """w16: F and A agree on 1 of 4 clips at step 10 and on all 4 at step 20; of A's two confident labels at
    step 10 F already gives one, at step 20 all four. The FixMatch run's F agrees with CMPL's F on 3 of 4 at
    step 20, the last step both scored (the FixMatch run also scored step 30), and of its 2 confident labels
    there CMPL's F gives one."""
    truth = [0, 1, 2, 3]
    cmpl = _write_scores(
        tmp_path / "cmpl_seed0",
        [
            _predictions(10, truth, [0, 1, 2, 3], [0, 0, 0, 0], [0.95, 0.9, 0.5, 0.2]),
            _predictions(20, truth, [0, 1, 2, 2], [0, 1, 2, 2], [0.99] * 4),
        ],
    )
    fixmatch = _write_scores(
        tmp_path / "fixmatch_seed0",
        [
            _predictions(10, truth, [0, 0, 0, 0]),
            _predictions(20, truth, [0, 1, 2, 3], confidence=[0.2, 0.3, 0.95, 0.99]),
            _predictions(30, truth, [1, 1, 1, 1]),
        ],
    )
    assert network_agreement.agreement_over_training(cmpl) == {10: (25.0, 50.0), 20: (100.0, 100.0)}
    assert network_agreement.agreement_between_runs(cmpl, fixmatch) == (20, 75.0, 50.0)
    unsure = _predictions(30, truth, [0, 1, 2, 3], [0, 1, 2, 3], [0.5] * 4)
    assert np.isnan(network_agreement.labels_already_known(unsure))  # nothing taught, nothing to compare
    network_agreement.print_agreement([_write_scores(tmp_path / "cmpl_seed1", [unsure])], [])
    assert capsys.readouterr().out.splitlines()[1].split() == ["30", "100.0", "%", "-", "100.0"]
    network_agreement.print_agreement([cmpl, cmpl], [fixmatch, fixmatch])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split()[:4] == ["10", "25.0", "%", "50.0"]  # step, F = A, labels known to F
    assert lines[2].split()[:4] == ["20", "100.0", "%", "100.0"]
    assert "(step 20)" in lines[3]
    assert lines[4].split()[-4:] == ["75.0", "%", "75.0", "75.0"]  # F = the FixMatch run's F
    assert lines[5].split()[-4:] == ["50.0", "%", "50.0", "50.0"]  # its confident labels CMPL's F gives
    with pytest.raises(ValueError, match="equal"):
        network_agreement.agreement([0, 1], [0])
    other = _write_scores(tmp_path / "other", [_predictions(20, [3, 2, 1, 0], [0, 1, 2, 3])])
    with pytest.raises(SystemExit, match="different clips"):
        network_agreement.agreement_between_runs(cmpl, other)
    with pytest.raises(SystemExit, match="not a CMPL run"):
        network_agreement.agreement_over_training(fixmatch)


def test_evidence_gives_each_run_its_seed_where_an_override_says_seed(tmp_path, monkeypatch, capsys):
    """`-- data.split_seed={seed}` (e21): seed k trains on labeled subset k; the log keeps the command as typed."""
    commands = []

    def fake_train(cmd, **_):
        commands.append(cmd)
        run_dir = Path(next(a for a in cmd if a.startswith("train.output_dir=")).partition("=")[2])
        run_dir.mkdir(parents=True)
        (run_dir / "results.json").write_text(json.dumps({"top1": 50.0}))
        (run_dir / "metrics.jsonl").write_text(json.dumps({"step": 1, "split": "train", "loss": 1.0}) + "\n")

    monkeypatch.setattr(evidence.subprocess, "run", fake_train)
    log = tmp_path / "log.jsonl"
    argv = ["evidence.py", "--name", "s", "--methods", "supervised", "--seeds", "3", "4", "--jobs", "1"]
    paths = ["--out", str(tmp_path / "runs"), "--log", str(log)]
    monkeypatch.setattr("sys.argv", [*argv, *paths, "--", "data.split_seed={seed}", "optim.base_lr=0.1"])
    evidence.main()
    for seed, cmd in zip((3, 4), commands, strict=True):
        assert f"data.split_seed={seed}" in cmd and f"train.seed={seed}" in cmd and "optim.base_lr=0.1" in cmd
        assert not any("{seed}" in arg for arg in cmd)
    entry = json.loads(log.read_text())
    assert entry["overrides"] == ["data.split_seed={seed}", "optim.base_lr=0.1"]
    assert [run["seed"] for run in entry["runs"]["supervised"]] == [3, 4]
    assert "s: data.split_seed={seed} optim.base_lr=0.1" in capsys.readouterr().out


def _log(path: Path, settings: dict[str, dict[str, list[tuple[int, float]]]]) -> Path:
    lines = [
        json.dumps(
            {
                "name": name,
                "runs": {m: [{"seed": s, "top1": t} for s, t in runs] for m, runs in by_method.items()},
            }
        )
        for name, by_method in settings.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_pool_seeds_joins_settings_and_pairs_the_methods_by_seed(tmp_path):
    log = _log(
        tmp_path / "log.jsonl",
        {
            "first": {"fixmatch": [(0, 60.0), (1, 50.0)], "supervised": [(0, 58.0), (1, 49.0)]},
            "more": {"fixmatch": [(2, 70.0)], "supervised": [(2, 66.0)]},
            "unrelated": {"fixmatch": [(0, 0.0)]},
        },
    )
    pooled = pool_seeds.pooled_top1(["more", "first"], log)
    assert list(pooled) == ["supervised", "fixmatch"]  # the demo's order, whatever the log's
    assert pooled["fixmatch"] == {0: 60.0, 1: 50.0, 2: 70.0}
    with pytest.raises(SystemExit, match="fixmatch seed 0 is logged twice"):
        pool_seeds.pooled_top1(["first", "unrelated"], log)
    with pytest.raises(SystemExit, match="no setting named absent"):
        pool_seeds.pooled_top1(["first", "absent"], log)
    with pytest.raises(SystemExit, match=r"fixmatch, supervised has runs not logged by rescore\.py"):
        pool_seeds.own_test_set(pool_seeds.pooled_runs(["first"], log))  # trained, not rescored: no top1_own


def test_pool_seeds_prints_pooled_pseudo_labels_where_every_run_logged_them(tmp_path, monkeypatch, capsys):
    runs = [
        {"seed": 0, "top1": 60.0, "mask": 40.0, "correct": 30.0},
        {"seed": 1, "top1": 50.0, "mask": 60.0, "correct": 50.0},
    ]
    log = tmp_path / "log.jsonl"
    log.write_text(
        json.dumps({"name": "s", "runs": {"cmpl": runs, "supervised": [{"seed": 0, "top1": 1.0}]}}) + "\n"
    )
    monkeypatch.setattr("sys.argv", ["pool_seeds.py", "--log", str(log), "s"])
    pool_seeds.main()
    out = capsys.readouterr().out
    # 40 of 50 right, pooled, not the mean of 75 % and 83 %; supervised logged none, so it gets no line
    assert (
        out.count("pseudo-labels") == 1
        and "pseudo-labels: 50.0 % of clips, 40.0 % right (precision 80.0 %)" in out
    )
    assert "cmpl          55.0 ± 7.1" in out  # sample SD of 60 and 50


def test_pool_seeds_pairs_a_labelled_variant_with_its_method(tmp_path, monkeypatch, capsys):
    """NAME=LABEL keeps a variant's seeds apart from the method's own, so the two are paired by seed."""
    log = _log(
        tmp_path / "log.jsonl",
        {
            "shipped": {
                "cmpl": [(0, 60.0), (1, 50.0), (2, 70.0)],
                "supervised": [(0, 58.0), (1, 49.0), (2, 66.0)],
            },
            "variant": {"cmpl": [(0, 62.0), (1, 51.0), (2, 74.0)]},
        },
    )
    pooled = pool_seeds.pooled_top1(["shipped", "variant=light-A"], log)
    assert list(pooled) == ["supervised", "cmpl", "cmpl light-A"]
    assert pooled["cmpl light-A"] == {0: 62.0, 1: 51.0, 2: 74.0}
    with pytest.raises(SystemExit, match="cmpl seed 0 is logged twice"):
        pool_seeds.pooled_top1(["shipped", "variant"], log)
    with pytest.raises(SystemExit, match="no setting named absent"):
        pool_seeds.pooled_top1(["shipped", "absent=light-A"], log)
    monkeypatch.setattr("sys.argv", ["pool_seeds.py", "--log", str(log), "shipped", "variant=light-A"])
    pool_seeds.main()
    out = capsys.readouterr().out
    assert "cmpl light-A   62.3 ± 11.5" in out  # mean of 62, 51, 74; sample SD
    assert "pseudo-labels" not in out  # this log has none
    variant_line = next(line for line in out.splitlines() if "cmpl light-A - cmpl " in line)
    assert (
        variant_line.split("cmpl light-A - cmpl")[1].strip()
        == "+2.3 ± 0.9  (3 seeds, p = 0.118: not ranked at 95 %)"
    )


def test_pool_seeds_ranks_at_the_level_it_is_given(tmp_path, monkeypatch, capsys):
    """fixmatch - supervised per seed +2, +1, +4: p = 0.118, so ranked at 80 % but not at the default 95 %."""
    log = _log(
        tmp_path / "log.jsonl",
        {
            "s": {
                "fixmatch": [(0, 60.0), (1, 50.0), (2, 70.0)],
                "supervised": [(0, 58.0), (1, 49.0), (2, 66.0)],
            }
        },
    )
    for extra, verdict in (([], "not ranked at 95 %"), (["--alpha", "0.2"], "ranked at 80 %")):
        monkeypatch.setattr("sys.argv", ["pool_seeds.py", "--log", str(log), *extra, "s"])
        pool_seeds.main()
        assert f"(3 seeds, p = 0.118: {verdict})" in capsys.readouterr().out
    monkeypatch.setattr("sys.argv", ["pool_seeds.py", "--log", str(log), "--alpha", "0", "s"])
    with pytest.raises(SystemExit):
        pool_seeds.main()
    assert "--alpha must lie between 0 and 1" in capsys.readouterr().err


@pytest.mark.slow
def test_rescore_logs_finished_runs_on_a_new_list_as_a_setting_pool_seeds_reads(
    tiny_synthetic, tmp_path, monkeypatch
):
    runs = [tmp_path / f"supervised_seed{seed}" for seed in (0, 1)]
    runs.append(tmp_path / "fixmatch_seed0")
    for run_dir in runs:
        method, seed = run_dir.name.split("_seed")
        overrides = [*fast_overrides(tiny_synthetic, run_dir, method, iterations=2), f"train.seed={seed}"]
        Trainer(load_config(None, overrides)).fit()
    lines = (tiny_synthetic / "test.txt").read_text().splitlines()[::2]  # one video of each class
    new_list = tmp_path / "new" / "test.txt"
    new_list.parent.mkdir()
    new_list.write_text("".join(f"{tiny_synthetic / line}\n" for line in lines))
    log = tmp_path / "log.jsonl"
    argv = ["rescore.py", "--name", "again", "--test-list", str(new_list), "--log", str(log), *map(str, runs)]
    monkeypatch.setattr("sys.argv", argv)
    rescore.main()
    entry = json.loads(log.read_text())
    rows = entry["runs"]["supervised"]
    assert [r["seed"] for r in rows] == [0, 1] and entry["test_list"] == str(new_list.resolve())
    (pseudo_labelled,) = entry["runs"]["fixmatch"]  # its training's pseudo-label figures, as evidence.py's
    assert {"mask", "correct", "accuracy"} <= pseudo_labelled.keys() and "mask" not in rows[0]
    assert pseudo_labelled["mask"] == pseudo_label_summary(runs[2])["mask"]
    for row, run_dir in zip(rows, runs[:2], strict=True):
        assert row["top1_own"] == json.loads((run_dir / "results.json").read_text())["top1"]
        scored = json.loads((run_dir / "results_2x1_new_test.json").read_text())
        assert scored["num_videos"] == 12 and row["top1"] == scored["top1"]
    assert pool_seeds.pooled_top1(["again"], log)["supervised"] == {r["seed"]: r["top1"] for r in rows}
    own = pool_seeds.top1_by_seed(pool_seeds.own_test_set(pool_seeds.pooled_runs(["again"], log)))
    assert own["supervised"] == {r["seed"]: r["top1_own"] for r in rows}  # --own-test-set


def test_sign_test_counts_both_tails_of_a_fair_coin():
    assert common.sign_test_p(6, 7) == pytest.approx(0.125)  # (1 + 7) / 128 per tail
    assert common.sign_test_p(1, 7) == common.sign_test_p(6, 7)
    assert common.sign_test_p(16, 18) == pytest.approx(0.0013122, abs=1e-7)  # scipy.stats.binomtest(16, 18)
    assert common.sign_test_p(2, 4) == common.sign_test_p(0, 0) == 1.0
    with pytest.raises(ValueError, match="one_way <= seeds"):
        common.sign_test_p(5, 4)


def test_tables_list_the_demo_methods_first_in_order_then_others_by_name():
    assert common.in_demo_order(["x", "cmpl", "supervised"]) == ["supervised", "cmpl", "x"]
