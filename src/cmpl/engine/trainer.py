"""The iteration loop shared by every method: data streams, device-side views, optimisation, logging,
checkpoints and evaluation. One process per device; torchrun starts several for DDP."""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from cmpl.config import Config, ConfigError, config_to_dict, save_config, upgrade_saved_model_keys
from cmpl.data.augment import ClipAugment
from cmpl.data.datasets import TrainBatch, TrainClips, collate_train
from cmpl.engine import distributed
from cmpl.engine.checkpoint import (
    keep_recent,
    load_checkpoint,
    restore_rng_state,
    rng_state,
    save_checkpoint,
)
from cmpl.engine.evaluate import EvalResult, accuracy_metrics, predict_dataset, unreadable_note
from cmpl.engine.guard import NonFiniteGuard
from cmpl.engine.metrics import MetricWriter, RunningMean, pooled_pseudo_label_accuracy
from cmpl.engine.optim import build_optimizer, build_scheduler, iterations_per_epoch, resolve_iterations
from cmpl.engine.run_data import RunData, prepare_run_data
from cmpl.engine.run_folder import claim_run_folder, truncate_metrics
from cmpl.engine.runtime import (
    clip_specs,
    enabled_on,
    input_normalizer,
    resolve_device,
    test_clips,
    test_records,
    use_amp,
)
from cmpl.engine.stop import StopSignals
from cmpl.engine.streams import endless_loader
from cmpl.engine.unlabeled_scores import score_unlabeled, scored_videos, write_scores
from cmpl.errors import CheckpointError, RunFolderError, TrainingStopped, UserError
from cmpl.methods import LabeledBatch, Method, UnlabeledBatch, build_method
from cmpl.models.weights import check_source, load_pretrained
from cmpl.run_files import METRICS_FILE, read_metrics, score_summary

__all__ = ["RESUME_CHECKED_SECTIONS", "Trainer", "config_changes"]

RESUME_CHECKED_SECTIONS = ("model", "method", "data")
"""What a resumed run must share with its checkpoint; schedule, train and eval may change (e.g. a longer
schedule.iterations, another train.device)."""

RESUME_FREE_KEYS = frozenset({"data.num_workers", "data.cache_decoded", "data.backend"})
"""Keys of the checked sections that change how clips are read, not which clips are drawn: a run
pre-empted on one machine may resume on another with more cores, less memory or a GPU decoder."""


def config_changes(saved: dict[str, Any], current: dict[str, Any], sections: tuple[str, ...]) -> list[str]:
    """``section.key (saved -> current)`` for every key of ``sections`` whose value differs, except
    :data:`RESUME_FREE_KEYS`; nested blocks (``model.primary``) are compared key by key. A key the saved config
    lacks (a checkpoint older than the key) has its default."""

    def flat(values: Any, prefix: str) -> dict[str, Any]:
        if not isinstance(values, dict):
            return {prefix: values}
        out: dict[str, Any] = {}
        for key, value in values.items():
            out.update(flat(value, f"{prefix}.{key}"))
        return out

    defaults = config_to_dict(Config())
    changes = []
    for section in sections:
        default = flat(defaults.get(section, {}), section)
        before = {**default, **flat(saved.get(section, {}), section)}
        after = flat(current[section], section)
        changes += [
            f"{key} ({before.get(key)!r} -> {value!r})"
            for key, value in after.items()
            if before.get(key) != value and key not in RESUME_FREE_KEYS
        ]
    return changes


@dataclass
class _Progress:
    iteration: int = 0
    replaced_clips: int = 0  # draws of undecodable videos that another item replaced, all ranks
    skipped_steps: int = 0  # steps whose loss or gradients were not finite, undone
    best_top1: float = -1.0  # of the evaluations during training (checkpoints/best.pt)


class DivergedError(UserError):
    """Too many consecutive steps had a non-finite loss or gradient: the run is not learning any more."""


def _check_finite(weights: dict[str, torch.Tensor], path: Path) -> None:
    """Refuse to checkpoint non-finite weights (one host synchronisation per checkpoint)."""
    bad = [k for k, v in weights.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{path}: not written: {bad[0]} and {len(bad) - 1} more tensors are not finite")


class Trainer:
    """Builds everything a run needs from its config and trains for ``schedule.iterations`` steps."""

    def __init__(self, config: Config, resume: bool = False, force: bool = False) -> None:
        """``resume`` continues the run in ``train.output_dir``; ``force`` starts over in a folder that holds
        another run, or (with ``resume``) accepts a model, method or data config that differs from it."""
        self.config = config
        self.device = resolve_device(config.train.device)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        distributed.init_distributed(self.device)
        self.rank, self.world = distributed.rank(), distributed.world_size()
        self.run_dir = Path(config.train.output_dir)
        self.checkpoint_path = self.run_dir / "checkpoints" / "last.pt"
        torch.manual_seed(config.train.seed + self.rank)
        self.lock = claim_run_folder(self.run_dir, resume, force) if distributed.is_main() else None
        distributed.barrier()  # a folder cleared by --force is cleared before any rank reads it
        self.force = force
        self.writer: MetricWriter | None = None
        try:
            self._build(config, resume)
        except BaseException:
            self.close()
            raise

    def _build(self, config: Config, resume: bool) -> None:
        """Everything after the folder is claimed; ``__init__`` releases the folder if this fails."""
        self.resumed = resume and self.checkpoint_path.is_file()
        if resume and not self.resumed:
            self._check_fresh_start()
        self.saved_iteration: int | None = None  # of checkpoints/last.pt, once there is one of this run
        # onto the host: load_state_dict copies weights and optimizer state to the device, and the saved RNG
        # states must stay CPU ByteTensors (torch.set_rng_state takes nothing else)
        resume_state = load_checkpoint(self.checkpoint_path, map_location="cpu") if self.resumed else None
        if resume_state is None:  # a missing init_from file stops here, before the split is drawn
            for role in ("primary", "auxiliary"):
                if getattr(config.model, role).init_from:
                    check_source(getattr(config.model, role).init_from)
        self.data: RunData = prepare_run_data(config, self.run_dir, reuse_split=resume)
        config = self.config = resolve_iterations(config, len(self.data.unlabeled), self.world)
        every = config.train.score_unlabeled_every * iterations_per_epoch(
            config, len(self.data.unlabeled), self.world
        )
        self.score_every = max(1, round(every)) if every > 0 else 0
        self.scored = scored_videos(
            self.data.unlabeled, config.train.score_unlabeled_videos, config.data.split_seed
        )
        self.method: Method = build_method(config, self.data.num_classes)
        # method parameters loaded by init_from (optim.pretrained_lr_scale); a resumed run keeps its own list
        self.pretrained: list[str] = (
            self._init_from(config) if resume_state is None else list(resume_state.get("pretrained", []))
        )
        self.method.to(self.device)
        if config.train.sync_batchnorm and self.world > 1:
            if self.device.type != "cuda":
                raise ConfigError(
                    "train.sync_batchnorm: needs CUDA devices (SyncBatchNorm has no CPU kernel)"
                )
            self.method = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.method)
        self.amp = use_amp(config, self.device)
        self.channels_last = enabled_on(config.train.channels_last, self.device)
        if self.channels_last:
            self.method.to(memory_format=torch.channels_last_3d)
        self.optimizer = build_optimizer(self.method, config, self.world, pretrained=self.pretrained)
        self.scheduler = build_scheduler(self.optimizer, config)
        self.guard = NonFiniteGuard(self.method, self.optimizer, self.device)
        self.step_fn = self._wrap_for_training(self.method)
        d = config.data
        self.augment = ClipAugment(d.randaugment_ops, d.randaugment_magnitude, d.cutout_ratio)
        # each network's own input normalisation (its registry entry's mean and std)
        self.normalizers = {role: input_normalizer(config, role) for role in self.method.roles}
        self.progress = _Progress()
        # supervised warm-up: the unlabeled stream is not even read before this iteration
        self.unlabeled_start = round(config.method.supervised_warmup * config.schedule.iterations)
        self.bad_files: set[str] = set()
        if resume_state is not None:
            self._load(self.checkpoint_path, resume_state)
        if distributed.is_main():
            # a finished run resumed without its results.json evaluates again: its old final line goes
            done = self.progress.iteration >= config.schedule.iterations
            truncate_metrics(self.run_dir, self.progress.iteration, not done or self._finished())
            self.writer = MetricWriter(self.run_dir, purge_step=self.progress.iteration + 1)
            save_config(config, self.run_dir / "config.yaml")

    def _init_from(self, config: Config) -> list[str]:
        """Load each network's ``init_from`` weights and print one line per network of what was loaded and
        skipped; the names of the loaded parameters, for the optimizer's learning-rate groups."""
        loaded: list[str] = []
        shared = config.method.share_weights
        for role in self.method.roles:
            network = getattr(config.model, role)
            if not network.init_from or (role == "auxiliary" and shared):
                continue
            report = load_pretrained(self.method.networks[role], network.init_from, network.name, role)
            loaded += [f"networks.{role}.{name}" for name in sorted(report.parameters)]
            if distributed.is_main():
                print(report.line(role), file=sys.stderr)
        return loaded

    def _check_fresh_start(self) -> None:
        """``--resume`` without ``checkpoints/last.pt``: a new or empty folder starts at iteration 0 with a
        note; one that holds an earlier run's metrics is refused, since starting over would replace them. A
        group that torchrun restarted before the first checkpoint starts over (its own metrics are cut)."""
        if int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0:
            return
        if read_metrics(self.run_dir):
            raise RunFolderError(
                f"{self.checkpoint_path}: not found, so --resume cannot continue the run whose metrics "
                f"{self.run_dir / METRICS_FILE} holds; put its checkpoint back, or start over with --force "
                "instead of --resume (deletes that run)"
            )
        if distributed.is_main():
            print(
                f"note: {self.checkpoint_path}: not found; --resume starts a new run at iteration 0",
                file=sys.stderr,
            )

    def _finished(self) -> bool:
        """Whether the run has trained every iteration and has its results.json (a finished run resumed)."""
        path = self.run_dir / "results.json"
        if self.progress.iteration < self.config.schedule.iterations or not path.is_file():
            return False
        try:
            return json.loads(path.read_text()).get("iterations") == self.progress.iteration
        except (OSError, ValueError):
            return False

    def close(self) -> None:
        """Close the logs and release the run folder (``fit`` does this however it ends)."""
        if self.writer:
            self.writer.close()
            self.writer = None
        if self.lock:
            self.lock.close()
            self.lock = None

    def _wrap_for_training(self, method: Method) -> torch.nn.Module:
        module: torch.nn.Module = method
        if self.config.train.compile:
            for net in dict.fromkeys(method.networks.values()):  # a shared network compiles once
                net.compile()  # in place: state_dict keys stay the same
        if self.world > 1:
            cfg = self.config.method
            unused = method.roles != ("primary",) and not (
                cfg.auxiliary_supervised and cfg.auxiliary_unsupervised
            )
            ids = [self.device.index] if self.device.type == "cuda" else None
            module = DistributedDataParallel(method, device_ids=ids, find_unused_parameters=unused)
        return module

    # ------------------------------------------------------------------------------------------ data
    def streams(self) -> tuple[Iterator[TrainBatch], Iterator[TrainBatch] | None]:
        """The labeled and (if the method uses it) unlabeled endless loaders, resumed at the current step."""
        c, roles = self.config, self.method.roles
        specs = clip_specs(c, roles)
        common = dict(
            specs=specs,
            max_offset_s=c.data.time_offset_s,
            backend=c.data.backend,
            cache_decoded=c.data.cache_decoded,
        )
        start = self.progress.iteration
        loader_kw = dict(
            rank=self.rank,
            world_size=self.world,
            num_workers=c.data.num_workers,
            pin_memory=self.device.type == "cuda",
            start_batch=start,
        )
        labeled = TrainClips(
            self.data.labeled,
            mode="standard",
            short_side_range=c.data.short_side_range,
            crop_size=c.data.crop_size,
            seed=c.train.seed,
            **common,
        )
        labeled_stream = endless_loader(
            labeled, c.train.labeled_batch, collate_train, seed=c.train.seed, **loader_kw
        )
        if not self.method.uses_unlabeled:
            return labeled_stream, None
        short = c.data.weak_short_side
        unlabeled = TrainClips(
            self.data.unlabeled,
            mode="weak",
            short_side_range=(short, short),
            crop_size=c.data.crop_size,
            seed=c.train.seed + 1,
            **common,
        )
        unlabeled_stream = endless_loader(
            unlabeled,
            c.train.labeled_batch * c.method.unlabeled_ratio,
            collate_train,
            seed=c.train.seed + 1,
            **{**loader_kw, "start_batch": max(0, start - self.unlabeled_start)},
        )
        return labeled_stream, unlabeled_stream

    def _to_device(self, clips: torch.Tensor) -> torch.Tensor:
        return clips.to(self.device, non_blocking=True)

    def _model_input(self, clips: torch.Tensor, role: str = "primary") -> torch.Tensor:
        layout = torch.channels_last_3d if self.channels_last else torch.contiguous_format
        return self.normalizers[role](clips, layout)

    def labeled_batch(self, batch: TrainBatch) -> LabeledBatch:
        """A labeled stream's batch as the method receives it: on the device, flipped, normalised per role
        (public so that an analysis can pass the training's own batches through a network)."""
        flip = self.augment.flip if self.config.data.horizontal_flip else (lambda clips: clips)
        views = {
            role: self._model_input(flip(self._to_device(c)), role)
            for role, c in zip(self.method.roles, batch.clips, strict=True)
        }
        return LabeledBatch(views, self._to_device(batch.label))

    def unlabeled_batch(self, batch: TrainBatch) -> UnlabeledBatch:
        """An unlabeled stream's batch as the method receives it: weak and strong views per role, normalised."""
        weak, strong = {}, {}
        for role, clips in zip(self.method.roles, batch.clips, strict=True):
            clips = self._to_device(clips)
            weak[role] = self._model_input(clips, role)
            strong[role] = self._model_input(self.augment.strong(clips), role)
        labels = batch.label  # checked on the host: on the device the check would wait for the GPU
        truth = self._to_device(labels) if bool((labels >= 0).all()) else None
        return UnlabeledBatch(weak, strong, truth)

    # ------------------------------------------------------------------------------------------ loop
    def fit(self) -> dict[str, Any]:
        """Train to the configured iteration count, evaluate the primary network, write ``results.json``."""
        c = self.config
        total = c.schedule.iterations
        if self._finished():  # resumed after it finished: nothing to train, and no second evaluation
            self.close()
            results = json.loads((self.run_dir / "results.json").read_text())
            if distributed.is_main():
                print(
                    f"note: {self.run_dir}: finished at iteration {self.progress.iteration}; its results.json "
                    "is shown, not evaluated again (a larger schedule.iterations trains on)",
                    file=sys.stderr,
                )
            return results
        labeled_stream, unlabeled_stream = self.streams()
        running = RunningMean()
        bar = tqdm(
            total=total,
            initial=self.progress.iteration,
            desc=f"{c.method.name}",
            disable=not (c.train.progress and distributed.is_main()),
            dynamic_ncols=True,
        )
        self.method.train()
        window_start, window_steps, window_clips = time.perf_counter(), 0, 0
        with StopSignals() as stop:
            try:
                while self.progress.iteration < total:
                    with_unlabeled = self._reads_unlabeled(unlabeled_stream)
                    logs = self.train_step(labeled_stream, unlabeled_stream if with_unlabeled else None)
                    self.progress.iteration += 1
                    window_steps += 1
                    window_clips += c.train.labeled_batch * (
                        1 + (c.method.unlabeled_ratio if with_unlabeled else 0)
                    )
                    running.add(logs)
                    it = self.progress.iteration
                    bar.update(1)
                    if it % c.train.log_every == 0 or it == total:
                        elapsed = time.perf_counter() - window_start
                        values = self._window_values(running.pop(), window_steps)
                        values["clips_per_s"] = window_clips * self.world / max(elapsed, 1e-9)
                        bar.set_postfix(loss=f"{values['loss']:.3f}", refresh=False)
                        if self.writer:
                            self.writer.write(it, values)
                        window_start, window_steps, window_clips = time.perf_counter(), 0, 0
                    if it % c.train.checkpoint_every == 0 or it == total:
                        self._save()
                    if c.train.eval_every and it % c.train.eval_every == 0 and it != total:
                        self._evaluate(it, keep_best=True)
                    if self.score_every and it % self.score_every == 0:
                        self._score_unlabeled(it)
                    if self._stop_requested(stop, it) and it < total:
                        self._stop(stop.received or "a signal")
                bar.close()
                return self._finish()
            finally:
                self.close()

    def _window_values(self, means: dict[str, torch.Tensor], steps: int) -> dict[str, Any]:
        """A log line's values, averaged over the window and the ranks; stops a run that diverged."""
        values = pooled_pseudo_label_accuracy(distributed.all_reduce_mean(means))
        skipped, streak = self.guard.read()
        self.progress.skipped_steps += skipped
        it, limit = self.progress.iteration, self.config.train.max_nonfinite_steps
        if streak >= limit:
            if self.saved_iteration is None:
                then = "then start over with --force (no checkpoint of this run was written before)"
            else:
                then = f"then --resume from {self.checkpoint_path} (iteration {self.saved_iteration})"
            raise DivergedError(
                f"{streak} consecutive steps up to iteration {it} had a non-finite loss or gradient (their "
                f"updates were skipped; train.max_nonfinite_steps={limit}); lower optim.base_lr or check the "
                f"data, {then}"
            )
        self.progress.replaced_clips += round(values.pop("replaced_clips") * steps * self.world)
        values.update(
            lr=self.scheduler.get_last_lr()[0],
            replaced_clips=self.progress.replaced_clips,
            skipped_steps=self.progress.skipped_steps,
        )
        return values

    def _stop_requested(self, stop: StopSignals, iteration: int) -> bool:
        """Whether a signal asked to stop. Under torchrun the ranks agree on it at the log lines only: a
        collective every step would make the host wait for the device every step."""
        if self.world == 1:
            return stop.received is not None
        if iteration % self.config.train.log_every:
            return False
        return distributed.any_rank(stop.received is not None, self.device)

    def _stop(self, reason: str) -> None:
        """Write a checkpoint at the current iteration and leave the loop (``cmpl`` exits with status 75)."""
        if self.progress.iteration % self.config.train.checkpoint_every:
            self._save()
        raise TrainingStopped(
            f"stopped by {reason} at iteration {self.progress.iteration}; {self.checkpoint_path} holds it, "
            "--resume continues"
        )

    def train_step(
        self, labeled_stream: Iterator[TrainBatch], unlabeled_stream: Iterator[TrainBatch] | None
    ) -> dict[str, torch.Tensor]:
        """One optimisation step from the next batch of each stream given; returns the step's logs (on device).

        Whether a step uses unlabeled clips (the supervised warm-up) is :meth:`fit`'s choice, so that a
        caller such as ``cmpl bench`` times the method's full step whatever the schedule says."""
        lab_raw = next(labeled_stream)
        unl_raw = next(unlabeled_stream) if unlabeled_stream is not None else None
        skipped = lab_raw.skipped + (unl_raw.skipped if unl_raw else [])
        if skipped:
            self._record_bad_videos(skipped)
        labeled = self.labeled_batch(lab_raw)
        unlabeled = self.unlabeled_batch(unl_raw) if unl_raw is not None else None
        saved = self.guard.snapshot()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            out = self.step_fn(labeled, unlabeled)
        self.optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        finite = self.guard.finite(out.loss)
        self.optimizer.step()
        self.guard.undo_unless(finite, saved)
        self.scheduler.step()
        return {
            "loss": out.loss,
            **out.logs,
            "replaced_clips": torch.tensor(float(len(skipped)), device=self.device),
        }

    def _reads_unlabeled(self, unlabeled_stream: Any | None) -> bool:
        """Whether this step trains on unlabeled clips: the method uses them and its warm-up is over."""
        return unlabeled_stream is not None and self.progress.iteration >= self.unlabeled_start

    def _record_bad_videos(self, paths: list[str]) -> None:
        """Name each undecodable file once in ``bad_videos.txt`` (every rank appends its own)."""
        new = [p for p in dict.fromkeys(paths) if p not in self.bad_files]
        self.bad_files.update(new)
        if new:
            with (self.run_dir / "bad_videos.txt").open("a") as f:
                f.writelines(f"{p}\n" for p in new)

    # ------------------------------------------------------------------------------------------ state
    def _save(self, path: Path | None = None) -> None:
        """Checkpoint the run into ``path`` (default ``last.pt``, keeping ``train.keep_checkpoints``)."""
        rng_states = distributed.all_gather(rng_state())  # each rank resumes its own augmentation stream
        if not distributed.is_main():
            if path is None:  # every rank knows which checkpoint exists (the divergence stop names it)
                self.saved_iteration = self.progress.iteration
            return
        state = {
            "iteration": self.progress.iteration,
            "replaced_clips": self.progress.replaced_clips,
            "skipped_steps": self.progress.skipped_steps,
            "best_top1": self.progress.best_top1,
            "method": self.method.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_states,
            "config": config_to_dict(self.config),
            "pretrained": self.pretrained,
        }
        path = path or self.checkpoint_path
        _check_finite(state["method"], path)
        save_checkpoint(state, path)
        if path == self.checkpoint_path:
            self.saved_iteration = self.progress.iteration
            keep_recent(path, self.progress.iteration, self.config.train.keep_checkpoints)

    def _load(self, path: Path, state: dict[str, Any] | None = None) -> None:
        # onto the host (see _build): the saved RNG states must stay CPU ByteTensors
        state = state if state is not None else load_checkpoint(path, map_location="cpu")
        changed = config_changes(
            upgrade_saved_model_keys(state["config"]), config_to_dict(self.config), RESUME_CHECKED_SECTIONS
        )
        if changed and not self.force:
            raise ConfigError(
                f"{path}: the config differs from the checkpoint's in {'; '.join(changed)} "
                "(--force resumes anyway)"
            )
        self.method.load_state_dict(state["method"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        if len(state["rng"]) == self.world:  # device augmentation continues where the saved run stopped
            restore_rng_state(state["rng"][self.rank])
        elif distributed.is_main():
            warnings.warn(
                f"{path}: written by {len(state['rng'])} processes, resumed by {self.world}; device "
                f"augmentation draws start afresh from train.seed",
                stacklevel=2,
            )
        self.saved_iteration = state["iteration"]
        self.progress = _Progress(  # .get: checkpoints written before these counters existed
            state["iteration"],
            state["replaced_clips"],
            state.get("skipped_steps", 0),
            state.get("best_top1", -1.0),
        )

    def _evaluate(self, step: int, keep_best: bool = False) -> EvalResult:
        """Score the primary network on the test set; with ``keep_best``, a new best top-1 is checkpointed
        as ``best.pt``."""
        num_classes = self.data.num_classes
        unreadable: list[str] = []
        predictions = predict_dataset(
            self.method.primary,
            test_clips(self.config, test_records(self.config, self.data.test)),
            num_classes=num_classes,
            device=self.device,
            normalize=self._model_input,
            batch_size=self.config.eval.batch_size,
            num_workers=self.config.data.num_workers,
            amp=self.amp,
            progress=self.config.train.progress and distributed.is_main(),
            unreadable=unreadable,
        )
        result = accuracy_metrics(*predictions, num_classes, unreadable)
        if self.writer:
            self.writer.write(
                step,
                {"top1": result.top1, "top5": result.top5, "mean_class_accuracy": result.mean_class_accuracy},
                prefix="eval",
            )
        if keep_best and result.top1 > self.progress.best_top1:
            self.progress.best_top1 = result.top1
            self._save(self.checkpoint_path.with_name("best.pt"))
        return result

    def _score_unlabeled(self, step: int) -> None:
        scores = score_unlabeled(
            self.method,
            self.scored,
            self.config,
            num_classes=self.data.num_classes,
            device=self.device,
            normalize={role: (lambda c, r=role: self._model_input(c, r)) for role in self.method.roles},
            amp=self.amp,
        )
        if not distributed.is_main():
            return
        write_scores(self.run_dir, step, scores, self.scored)
        if self.writer:
            summaries = {role: score_summary(scores, role) for role in scores["roles"]}
            values = {f"{key}_{role}": v for role, summary in summaries.items() for key, v in summary.items()}
            self.writer.write(step, values, prefix="unlabeled")

    def _finish(self) -> dict[str, Any]:
        result = self._evaluate(self.progress.iteration)
        results = {
            "method": self.config.method.name,
            "iterations": self.progress.iteration,
            "replaced_clips": self.progress.replaced_clips,
            "bad_videos": sorted(self.bad_files),
            "class_names": self.data.class_names,
            "eval_protocol": {
                "num_clips": self.config.eval.num_clips,
                "num_crops": self.config.eval.num_crops,
            },
            **result.to_dict(),
        }
        if distributed.is_main():
            (self.run_dir / "results.json").write_text(json.dumps(results, indent=1))
            if result.unreadable_videos:
                print(unreadable_note(result, str(self.run_dir / "results.json")), file=sys.stderr)
        return results
