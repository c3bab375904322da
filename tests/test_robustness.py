"""Every way a run can be lost or a user confused, tried: reused and shared run folders, resume checks,
non-finite losses, pre-emption, checkpoint writes and reads, and the one-line answers to bad inputs
(docs/robustness.md shows what the user sees in each case)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import cmpl.commands.split
import cmpl.commands.train
from cmpl.cli import EXIT_STOPPED, main
from cmpl.config import ConfigError, load_config
from cmpl.engine import checkpoint
from cmpl.engine.checkpoint import load_checkpoint, save_checkpoint
from cmpl.engine.run_folder import claim_run_folder
from cmpl.engine.stop import StopSignals
from cmpl.engine.trainer import DivergedError, Trainer
from cmpl.errors import CheckpointError, RunFolderError, TrainingStopped
from cmpl.methods.base import StepOutput
from cmpl.run_files import read_metrics
from tests.helpers import fast_overrides

SRC = Path(cmpl.__file__).resolve().parents[1]


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def _overrides(data: Path, run_dir: Path, *extra: str, iterations: int = 3) -> list[str]:
    return [*fast_overrides(data, run_dir, "fixmatch", iterations), *extra]


@pytest.fixture(scope="module")
def finished_run(tiny_synthetic, tmp_path_factory) -> Path:
    """Checkpoints at 1, 2, 3 (the last 2 kept), one evaluation during training (at 2)."""
    run_dir = tmp_path_factory.mktemp("robust") / "run"
    extra = ("train.checkpoint_every=1", "train.keep_checkpoints=2", "train.eval_every=2")
    Trainer(load_config(None, _overrides(tiny_synthetic, run_dir, *extra))).fit()
    return run_dir


@pytest.fixture
def run_copy(finished_run, tmp_path) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


# ------------------------------------------------------------------------------ 1. run folders
def test_train_refuses_a_folder_holding_another_run(run_copy, tiny_synthetic, capsys):
    before = (run_copy / "checkpoints" / "last.pt").read_bytes()
    assert main(["train", *_overrides(tiny_synthetic, run_copy)]) == 2
    assert "holds another run; --resume continues it, --force starts over" in _one_error_line(capsys)
    assert (run_copy / "checkpoints" / "last.pt").read_bytes() == before


def test_force_starts_over_and_keeps_what_is_not_the_runs(run_copy):
    (run_copy / "notes.txt").write_text("mine")
    claim_run_folder(run_copy, resume=False, force=True).close()
    assert sorted(p.name for p in run_copy.iterdir()) == [".lock", "notes.txt"]


def test_a_second_process_is_refused_and_a_killed_one_leaves_no_stale_lock(tmp_path):
    code = (
        "import sys, time; from pathlib import Path; from cmpl.engine.run_folder import claim_run_folder; "
        "lock = claim_run_folder(Path(sys.argv[1]), False, False); print('locked', flush=True); time.sleep(120)"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunFolderError, match="another process is training into this folder"):
            claim_run_folder(tmp_path, resume=True, force=True)
    finally:
        holder.kill()  # SIGKILL: no clean-up runs in the holder
        holder.wait()
    claim_run_folder(tmp_path, resume=True, force=False).close()


def test_an_unwritable_output_folder_stops_before_training(tmp_path, tiny_synthetic, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert main(["train", *_overrides(tiny_synthetic, blocker / "run")]) == 2
    assert "cannot write there" in _one_error_line(capsys)


def test_demo_runs_start_over_and_bench_writes_beside_the_run(run_copy):
    """A demo run into a folder holding a finished run starts it over (no refusal); ``cmpl bench`` writes
    into <output_dir>/bench, never into the run."""
    import inspect

    from cmpl.commands import bench, demo

    overrides = ["schedule.iterations=2", "schedule.warmup_iterations=1", f"train.output_dir={run_copy}"]
    config = load_config(run_copy / "config.yaml", overrides)
    assert demo._fit(config)["iterations"] == 2
    assert '"bench"' in inspect.getsource(bench.run_bench)


# ------------------------------------------------------------------------------ 2. resume
def test_resume_names_each_differing_config_key_and_force_accepts(run_copy, tiny_synthetic):
    changed = _overrides(tiny_synthetic, run_copy, "method.threshold=0.5", "model.primary.dropout=0.1")
    with pytest.raises(ConfigError) as error:
        Trainer(load_config(None, changed), resume=True)
    message = str(error.value)
    assert "model.primary.dropout (0.5 -> 0.1)" in message and "method.threshold (0.9 -> 0.5)" in message
    Trainer(load_config(None, changed), resume=True, force=True).close()


def test_resume_accepts_another_machines_loader_settings(run_copy, tiny_synthetic):
    """Workers, decode cache and decoder change how clips are read, not which: no --force needed."""
    elsewhere = ("data.num_workers=2", "data.cache_decoded=true", "data.backend=torchcodec")
    Trainer(load_config(None, _overrides(tiny_synthetic, run_copy, *elsewhere)), resume=True).close()


def test_resume_on_another_device_restores_the_cpu_rng_state(run_copy, tiny_synthetic):
    """On CUDA a checkpoint loaded with ``map_location=<the device>`` put the saved CPU RNG state on the GPU
    and ``torch.set_rng_state`` refused it. Here the trainer's device is ``meta``, standing in for CUDA:
    the checkpoint must still be read onto the host, weights go to the device through load_state_dict."""
    trainer = Trainer(load_config(None, _overrides(tiny_synthetic, run_copy)), resume=True)
    saved = load_checkpoint(trainer.checkpoint_path)
    torch.manual_seed(1234)
    trainer.device = torch.device("meta")
    trainer._load(trainer.checkpoint_path)
    assert torch.equal(torch.get_rng_state(), saved["rng"][0]["torch"])
    assert trainer.progress.iteration == saved["iteration"]
    weights = trainer.method.state_dict()
    assert all(torch.equal(weights[k], v) for k, v in saved["method"].items())
    trainer.close()


def test_resume_without_a_checkpoint_refuses_to_replace_an_earlier_runs_metrics(
    run_copy, tiny_synthetic, capsys
):
    (run_copy / "checkpoints" / "last.pt").unlink()
    before = (run_copy / "metrics.jsonl").read_text()
    assert main(["train", *_overrides(tiny_synthetic, run_copy), "--resume"]) == 2
    assert _one_error_line(capsys) == (
        f"error: {run_copy / 'checkpoints' / 'last.pt'}: not found, so --resume cannot continue the run whose "
        f"metrics {run_copy / 'metrics.jsonl'} holds; put its checkpoint back, or start over with --force "
        "instead of --resume (deletes that run)"
    )
    assert (run_copy / "metrics.jsonl").read_text() == before


def test_resume_into_a_new_folder_starts_at_iteration_0_with_a_note(tiny_synthetic, tmp_path, capsys):
    run_dir = tmp_path / "new"
    Trainer(load_config(None, _overrides(tiny_synthetic, run_dir)), resume=True).close()
    assert capsys.readouterr().err.strip() == (
        f"note: {run_dir / 'checkpoints' / 'last.pt'}: not found; --resume starts a new run at iteration 0"
    )


def test_resuming_a_finished_run_shows_its_results_without_a_second_evaluation(
    run_copy, tiny_synthetic, capsys
):
    before = (run_copy / "metrics.jsonl").read_text()
    results = json.loads((run_copy / "results.json").read_text())
    assert main(["train", *_overrides(tiny_synthetic, run_copy), "--resume"]) == 0
    out, err = capsys.readouterr()
    assert f"top-1 {results['top1']:.2f}" in out
    assert err.strip() == (
        f"note: {run_copy}: finished at iteration 3; its results.json is shown, not evaluated again (a larger "
        "schedule.iterations trains on)"
    )
    assert (run_copy / "metrics.jsonl").read_text() == before


def test_a_finished_run_without_results_is_evaluated_again_once(run_copy, tiny_synthetic):
    (run_copy / "results.json").unlink()
    Trainer(load_config(None, _overrides(tiny_synthetic, run_copy)), resume=True).fit()
    assert [r["step"] for r in read_metrics(run_copy, "eval")] == [2, 3]
    assert (run_copy / "results.json").is_file()


@pytest.mark.slow
def test_resume_logs_each_iteration_once(run_copy, tiny_synthetic):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    # what a run killed after iteration 4's log line and before its checkpoint leaves behind
    with (run_copy / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"step": 4, "split": "train", "loss": 9.0}) + "\n")
    with SummaryWriter(str(run_copy / "tensorboard")) as tb:
        tb.add_scalar("train/loss", 9.0, 4)
    time.sleep(1.1)  # event files sort by their second of creation: the dead run's comes first, as it would
    Trainer(load_config(None, _overrides(tiny_synthetic, run_copy, iterations=5)), resume=True).fit()
    assert [r["step"] for r in read_metrics(run_copy, "train")] == [1, 2, 3, 4, 5]
    assert 9.0 not in [r["loss"] for r in read_metrics(run_copy, "train")]
    events = EventAccumulator(str(run_copy / "tensorboard"))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2, 3, 4, 5]


def test_a_restarted_torchrun_worker_resumes_by_itself(monkeypatch):
    from cmpl.commands import train as train_command

    seen = {}

    class FakeTrainer:
        def __init__(self, config, resume, force):
            seen.update(resume=resume, force=force)

        def fit(self):
            return {}

    monkeypatch.setattr(train_command, "Trainer", FakeTrainer)
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    train_command.train(load_config(None))
    assert seen == {"resume": True, "force": False}


# ------------------------------------------------------------------------------ 3. non-finite losses
def _nan_steps(trainer: Trainer) -> None:
    real = trainer.step_fn
    trainer.step_fn = lambda lab, unl: StepOutput(real(lab, unl).loss * float("nan"), {})


def _floating_state(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.method.state_dict().items() if v.is_floating_point()}


def test_a_nonfinite_step_is_undone_and_counted(tiny_synthetic, tmp_path):
    trainer = Trainer(load_config(None, _overrides(tiny_synthetic, tmp_path / "nan")))
    labeled, unlabeled = trainer.streams()
    trainer.method.train()
    before = _floating_state(trainer)
    real = trainer.step_fn
    _nan_steps(trainer)
    trainer.train_step(labeled, unlabeled)
    after = _floating_state(trainer)
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and BatchNorm statistics
    assert all(
        torch.isfinite(v).all()
        for s in trainer.optimizer.state.values()
        for v in s.values()
        if torch.is_tensor(v)
    )
    assert trainer.guard.read() == (1, 1)
    trainer.step_fn = real
    trainer.train_step(labeled, unlabeled)
    assert not all(torch.equal(before[k], v) for k, v in _floating_state(trainer).items())
    assert trainer.guard.read()[0] == 0
    trainer.close()


def test_consecutive_nonfinite_steps_stop_training_without_a_checkpoint(tiny_synthetic, tmp_path):
    run_dir = tmp_path / "diverged"
    trainer = Trainer(load_config(None, _overrides(tiny_synthetic, run_dir, "train.max_nonfinite_steps=2")))
    _nan_steps(trainer)
    with pytest.raises(DivergedError) as error:
        trainer.fit()
    assert str(error.value) == (
        "2 consecutive steps up to iteration 2 had a non-finite loss or gradient (their updates were skipped; "
        "train.max_nonfinite_steps=2); lower optim.base_lr or check the data, then start over with --force "
        "(no checkpoint of this run was written before)"
    )
    assert not (run_dir / "checkpoints" / "last.pt").exists()
    claim_run_folder(run_dir, resume=True, force=False).close()  # fit released the folder


def test_the_divergence_stop_names_the_checkpoint_that_exists(tiny_synthetic, tmp_path):
    run_dir = tmp_path / "diverged_later"
    overrides = _overrides(tiny_synthetic, run_dir, "train.max_nonfinite_steps=2", "train.checkpoint_every=1")
    trainer = Trainer(load_config(None, overrides))
    real, calls = trainer.step_fn, []

    def nan_after_the_first(lab, unl):
        calls.append(1)
        out = real(lab, unl)
        return out if len(calls) == 1 else StepOutput(out.loss * float("nan"), {})

    trainer.step_fn = nan_after_the_first
    with pytest.raises(DivergedError) as error:
        trainer.fit()
    last = run_dir / "checkpoints" / "last.pt"
    assert str(error.value).endswith(f"then --resume from {last} (iteration 2)")  # step 2 was undone
    assert load_checkpoint(last)["iteration"] == 2


def test_a_checkpoint_never_holds_nonfinite_weights(tiny_synthetic, tmp_path):
    trainer = Trainer(load_config(None, _overrides(tiny_synthetic, tmp_path / "w")))
    with torch.no_grad():
        next(trainer.method.parameters()).fill_(float("inf"))
    with pytest.raises(CheckpointError, match="not finite"):
        trainer._save()
    assert not trainer.checkpoint_path.exists()
    trainer.close()


# ------------------------------------------------------------------------------ 4. pre-emption
@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_exits_75_and_the_run_resumes(tiny_synthetic, tmp_path, capsys):
    run_dir = tmp_path / "preempted"
    overrides = _overrides(tiny_synthetic, run_dir, "train.checkpoint_every=1000", iterations=1000)
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cmpl", "train", *overrides], stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.monotonic() + 240
    while not read_metrics(run_dir, "train") and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == EXIT_STOPPED, err
    stopped_at = load_checkpoint(run_dir / "checkpoints" / "last.pt")["iteration"]
    assert 0 < stopped_at < 1000
    assert err.strip().splitlines()[-1] == (
        f"stopped by SIGTERM at iteration {stopped_at}; {run_dir / 'checkpoints' / 'last.pt'} holds it, "
        "--resume continues"
    )
    resumed = _overrides(tiny_synthetic, run_dir, iterations=stopped_at + 1)
    assert main(["train", *resumed, "--resume"]) == 0
    assert [r["step"] for r in read_metrics(run_dir, "train")] == list(range(1, stopped_at + 2))


@pytest.mark.parametrize(("rank", "printed"), [("0", True), ("1", False)])
def test_only_rank_0_prints_the_stop_line(monkeypatch, capsys, rank, printed):
    def stopped(_args):
        raise TrainingStopped("stopped by SIGTERM at iteration 3")

    monkeypatch.setattr(cmpl.commands.train, "run", stopped)
    monkeypatch.setenv("RANK", rank)
    assert main(["train", "x=1"]) == EXIT_STOPPED
    assert ("stopped by SIGTERM" in capsys.readouterr().err) is printed


def test_a_second_sigint_interrupts_at_once():
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN where the suite runs in a background job
    with StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        assert stop.received == "SIGINT"  # the first only asks
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler runs between bytecodes; it must not get this far
    assert signal.getsignal(signal.SIGINT) is before  # the handler in place before is back


def _workers(agent: int) -> dict[int, int]:
    """Rank -> pid of the worker processes a torchrun agent started."""
    children = Path(f"/proc/{agent}/task/{agent}/children").read_text().split()
    ranks = {}
    for pid in map(int, children):
        env = dict(
            item.split("=", 1) for item in Path(f"/proc/{pid}/environ").read_text().split("\0") if "=" in item
        )
        if "RANK" in env:
            ranks[int(env["RANK"])] = pid
    return ranks


def test_each_torchrun_attempt_sees_only_its_own_store_keys(monkeypatch):
    """torchrun's agent keeps one store for every restart attempt; keys a dead group wrote there (its Gloo
    addresses) must not reach the restarted group, which read them and failed to connect."""
    from torch.distributed import TCPStore

    from cmpl.engine import distributed

    server = TCPStore("127.0.0.1", 0, 1, is_master=True, wait_for_workers=False)
    env = {"TORCHELASTIC_USE_AGENT_STORE": "True", "MASTER_ADDR": "127.0.0.1", "WORLD_SIZE": "2"}
    for key, value in {**env, "MASTER_PORT": str(server.port), "TORCHELASTIC_RESTART_COUNT": "0"}.items():
        monkeypatch.setenv(key, value)
    first = distributed.attempt_store()
    first.set("default_pg/0/cpu/rank_0", "address of a process that died")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    second = distributed.attempt_store()
    assert not second.check(["default_pg/0/cpu/rank_0"])
    assert first.check(["default_pg/0/cpu/rank_0"])
    monkeypatch.delenv("TORCHELASTIC_USE_AGENT_STORE")
    assert distributed.attempt_store() is None  # plain env:// rendezvous outside torchrun's agent


@pytest.mark.slow
def test_torchrun_restarts_a_dead_rank_and_the_run_completes_from_its_checkpoint(tiny_synthetic, tmp_path):
    """One restart allowed, none spare: the restarted group must connect the first time (see
    test_each_torchrun_attempt_sees_only_its_own_store_keys). The log goes to a file: a pipe nobody reads
    while the agent runs would block it once 64 KiB of tracebacks fill it."""
    run_dir, total = tmp_path / "elastic", 12
    overrides = _overrides(
        tiny_synthetic, run_dir, "train.checkpoint_every=2", "eval.num_clips=1", iterations=total
    )
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    log = tmp_path / "torchrun.log"
    with log.open("w") as log_file:
        agent = subprocess.Popen(
            [*launcher, "--max-restarts", "1", "-m", "cmpl", "train", *overrides],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    last = run_dir / "checkpoints" / "last.pt"
    deadline = time.monotonic() + 300
    while not last.is_file() and time.monotonic() < deadline and agent.poll() is None:
        time.sleep(0.2)
    killed_after = load_checkpoint(last)["iteration"]
    logged = [r for r in read_metrics(run_dir, "train") if r["step"] <= killed_after]
    os.kill(_workers(agent.pid)[1], signal.SIGKILL)
    agent.wait(timeout=400)
    assert agent.returncode == 0, log.read_text()[-3000:]
    assert 0 < killed_after < total
    rows = read_metrics(run_dir, "train")
    assert [r["step"] for r in rows] == list(range(1, total + 1))
    assert rows[:killed_after] == logged  # the restart continued from the checkpoint, not from scratch
    assert load_checkpoint(last)["iteration"] == total


# ------------------------------------------------------------------------------ 5. checkpoints
def test_the_last_k_and_the_best_checkpoints_are_kept(finished_run):
    folder = finished_run / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == [
        "best.pt",
        "iter_00000002.pt",
        "iter_00000003.pt",
        "last.pt",
    ]
    assert os.path.samefile(folder / "last.pt", folder / "iter_00000003.pt")  # a link, no extra space
    best = load_checkpoint(folder / "best.pt")
    assert best["iteration"] == 2
    assert best["best_top1"] == read_metrics(finished_run, "eval")[0]["top1"]


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"iteration": 1}, path)
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    with pytest.raises(CheckpointError) as error:
        save_checkpoint({"iteration": 2}, path)
    assert str(error.value) == (
        f"{path}: checkpoint not written (No space left on device); the checkpoint there before, if any, "
        "is intact: free space or fix the folder, then --resume"
    )
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["last.pt"]


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_a_checkpoint_that_would_run_code_is_refused_in_one_line(run_copy, capsys):
    path = run_copy / "checkpoints" / "last.pt"
    path.unlink()
    torch.save({"method": _RunsCode()}, path)
    assert main(["evaluate", str(run_copy), "--device", "cpu"]) == 2
    err = _one_error_line(capsys)
    assert err == (
        f"error: {path}: refused: loading it could run code (it names posix.system); cmpl loads only the "
        "checkpoints it writes"
    )


def test_a_truncated_checkpoint_is_one_line(run_copy, capsys):
    path = run_copy / "checkpoints" / "last.pt"
    path.write_bytes(path.read_bytes()[:1000])
    assert main(["evaluate", str(run_copy), "--device", "cpu"]) == 2
    assert f"{path}: not a readable checkpoint" in _one_error_line(capsys)


# ------------------------------------------------------------------------------ 6. errors
def test_a_bug_is_a_traceback_not_an_error_line(monkeypatch):
    def bug(args):
        raise ValueError("a bug")

    monkeypatch.setattr(cmpl.commands.split, "run", bug)
    with pytest.raises(ValueError, match="a bug"):
        main(["split", "demo"])


def test_debug_shows_the_traceback_of_a_user_error():
    with pytest.raises(ConfigError, match=r"method\.treshold: unknown key"):
        main(["--debug", "train", "demo", "method.treshold=0.5"])


@pytest.mark.slow
def test_predict_names_each_unreadable_video_and_answers_the_rest(
    finished_run, tiny_synthetic, tmp_path, capsys
):
    good = tiny_synthetic / "videos" / "circle" / "test_0000.mp4"
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"not a video" * 100)
    missing = tmp_path / "missing.mp4"
    args = ["predict", str(finished_run), str(corrupt), str(good), str(missing), "--views", "1x1"]
    assert main([*args, "--device", "cpu"]) == 1
    out, err = capsys.readouterr()
    assert [json.loads(line)["video"] for line in out.strip().splitlines()] == [str(good)]
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"error: {corrupt}: cannot open")
    assert lines[1] == f"error: {missing}: file not found"


@pytest.mark.slow
def test_an_unreadable_test_video_is_left_out_and_listed_not_fatal(tiny_synthetic, tmp_path, capsys):
    """Training and ``cmpl evaluate`` stopped with exit 2 and no results on one broken test video; now the
    test set is checked before training (a warning), the others are scored and the broken one is listed."""
    root = tmp_path / "data"
    root.mkdir()
    shutil.copy(tiny_synthetic / "classes.txt", root)
    for name in ("train.txt", "test.txt"):
        lines = (tiny_synthetic / name).read_text().splitlines()
        (root / name).write_text("".join(f"{tiny_synthetic / line}\n" for line in lines if line.strip()))
    broken = root / "broken.mp4"
    broken.write_bytes(b"not a video" * 100)
    with (root / "test.txt").open("a") as f:
        f.write("broken.mp4 3\n")
    run_dir = tmp_path / "run"
    overrides = [*_overrides(root, run_dir, "data.format=list", "eval.num_clips=1"), "eval.batch_size=5"]
    assert main(["train", *overrides]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith(f"warning: 1 of 25 test videos will not decode: {broken} (cannot open")
    assert err[0].endswith(
        "they will be left out of the test scores and listed in results.json (unreadable_videos)"
    )
    assert err[-1].startswith("warning: 1 of 25 test videos will not decode and are left out of the scores")
    results = json.loads((run_dir / "results.json").read_text())
    assert results["num_videos"] == 24
    assert [v.split(": ")[0] for v in results["unreadable_videos"]] == [str(broken)]
    assert main(["evaluate", str(run_dir), "--device", "cpu", "--views", "1x1"]) == 0
    assert "left out of the scores" in capsys.readouterr().err
    evaluated = json.loads((run_dir / "results_1x1.json").read_text())
    assert evaluated["num_videos"] == 24 and evaluated["unreadable_videos"] == results["unreadable_videos"]


# ------------------------------------------------------------------------------ 7. bad inputs
def _list_dataset(root: Path, train_lines: str) -> Path:
    root.mkdir()
    (root / "train.txt").write_text(train_lines)
    (root / "test.txt").write_text("")
    return root


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["method.treshold=0.5"], "error: method.treshold: unknown key; allowed: name, threshold"),
        (["train.labeled_batch=two"], "error: train.labeled_batch: expected an integer, got 'two'"),
        (["method.threshold=1.5"], "error: method.threshold: must be in [0, 1], got 1.5"),
        (["methods.threshold=0.5"], "error: methods: unknown key; allowed: data, model, method"),
        (["optim.base_lr=.nan"], "error: optim.base_lr: must be a finite number, got nan"),
        (["method.threshold=nan"], "error: method.threshold: must be a finite number, got 'nan'"),
        (["optim.momentum=.nan"], "error: optim.momentum: must be a finite number, got nan"),
        (["optim.base_lr=.inf"], "error: optim.base_lr: must be a finite number, got inf"),
        (["data.time_offset_s=-inf"], "error: data.time_offset_s: must be a finite number, got '-inf'"),
        (
            ["data.backend=torchcodec_cuda", "data.num_workers=2"],
            "error: data.backend: torchcodec_cuda decodes with CUDA, which forked loader workers cannot use; "
            "give data.num_workers=0 with it (got 2) or data.backend=torchcodec",
        ),
    ],
)
def test_bad_config_values_are_one_line(overrides, expected, capsys):
    assert main(["split", "demo", *overrides]) == 2
    assert _one_error_line(capsys).startswith(expected)


def test_a_missing_config_file_is_one_line(capsys):
    assert main(["split", "no_such.yaml"]) == 2
    assert _one_error_line(capsys).startswith("error: no_such.yaml: config file not found")


def test_torchcodec_cuda_without_loader_workers_is_accepted():
    assert load_config("demo", ["data.backend=torchcodec_cuda", "data.num_workers=0"]).data.num_workers == 0


@pytest.mark.parametrize("text", ["", "# nothing yet\n"])
def test_an_empty_config_file_is_one_line(tmp_path, capsys, text):
    path = tmp_path / "empty.yaml"
    path.write_text(text)
    assert main(["split", str(path)]) == 2
    assert _one_error_line(capsys) == (
        f"error: {path}: empty config file; give at least one section (e.g. data:) or a _base_, or name a "
        "shipped config (cmpl configs lists them)"
    )


def test_a_malformed_annotation_line_is_one_line(tmp_path, capsys):
    root = _list_dataset(tmp_path / "data", "a.mp4 0\nb.mp4 jump\n")
    assert main(["split", "demo", "data.format=list", f"data.root={root}"]) == 2
    assert _one_error_line(capsys) == f"error: {root / 'train.txt'}:2: label 'jump' is not an integer"


def test_a_missing_dataset_is_one_line(tmp_path, capsys):
    assert main(["split", "demo", "data.format=list", f"data.root={tmp_path / 'nowhere'}"]) == 2
    assert "annotation file not found" in _one_error_line(capsys)


def test_a_missing_listed_video_gives_advice_that_a_command_follows(tmp_path, capsys):
    """The advice was ``drop_missing=True``, which no option offers; ``cmpl check-videos CONFIG`` now lists
    the missing files (it raised the same error before)."""
    root = _list_dataset(tmp_path / "data", "gone.mp4 0\n")
    (root / "test.txt").write_text("gone_too.mp4 0\n")
    overrides = ["data.format=list", f"data.root={root}"]
    assert main(["split", "demo", *overrides]) == 2
    err = capsys.readouterr().err
    assert "drop_missing" not in err
    assert err.strip().endswith(
        "restore them or remove their lines from the annotation list; `cmpl check-videos CONFIG` lists every "
        "video that is missing or will not decode"
    )
    assert main(["check-videos", "demo", *overrides, "--workers", "1"]) == 1
    out, err = capsys.readouterr()
    assert [line.split("\t") for line in out.strip().splitlines()] == [
        [str(root / "gone.mp4"), "file not found"],
        [str(root / "gone_too.mp4"), "file not found"],
    ]
    assert err.strip().splitlines()[-1] == "2 of 2 videos will not decode"


def test_a_one_class_dataset_is_one_line(tiny_synthetic, tmp_path, capsys):
    root = tmp_path / "one"
    root.mkdir()
    circle = sorted((tiny_synthetic / "videos" / "circle").glob("*.mp4"))
    (root / "train.txt").write_text("".join(f"{p} 0\n" for p in circle if "train" in p.name))
    (root / "test.txt").write_text("".join(f"{p} 0\n" for p in circle if "test" in p.name))
    (root / "classes.txt").write_text("circle\n")
    overrides = [*fast_overrides(root, tmp_path / "run"), "data.format=list"]
    assert main(["train", *overrides]) == 2
    assert _one_error_line(capsys) == (
        f"error: {root}: the training videos hold 1 class ('circle'); a classifier needs at least 2"
    )


def test_k_larger_than_a_class_is_one_line(tiny_synthetic, tmp_path, capsys):
    overrides = fast_overrides(tiny_synthetic, tmp_path)  # the 4 videos per class the fixture holds
    assert main(["split", "demo", *overrides, "data.labeled_per_class=5"]) == 2
    assert "has 4 videos, fewer than per_class=5" in _one_error_line(capsys)


def test_corrupt_videos_are_listed_by_check_videos(tmp_path, capsys):
    folder = tmp_path / "videos" / "jump"
    folder.mkdir(parents=True)
    (folder / "broken.mp4").write_bytes(b"\x00" * 500)
    (folder / "empty.mp4").write_bytes(b"")
    assert main(["check-videos", str(tmp_path / "videos"), "--workers", "1"]) == 1
    out, err = capsys.readouterr()
    assert {line.split("\t")[0] for line in out.strip().splitlines()} == {
        str(folder / "broken.mp4"),
        str(folder / "empty.mp4"),
    }
    assert err.strip().splitlines()[-1] == "2 of 2 videos will not decode"


def test_evaluate_of_a_folder_that_is_no_run_is_one_line(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "config file not found" in _one_error_line(capsys)
