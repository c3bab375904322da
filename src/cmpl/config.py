"""Typed configuration: YAML files and ``a.b=value`` overrides validated into dataclasses.

Every field has a default (the built-in synthetic-data r50 experiment), but an empty YAML file is refused: it is
far more likely a mistake than a wish to train those defaults. Validation happens once, at load time, and an
unknown key or a bad value (NaN and infinity included) stops with one line that names the key and what is
allowed, e.g. ``method.threshold: must be in [0, 1], got 1.5``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cmpl.errors import UserError

__all__ = [
    "QUICK_OVERRIDES",
    "Config",
    "ConfigError",
    "NetworkConfig",
    "apply_overrides",
    "config_names",
    "config_to_dict",
    "load_config",
    "load_saved_config",
    "resolve_config",
    "save_config",
    "upgrade_saved_model_keys",
]

QUICK_OVERRIDES = [
    "data.synthetic_train_per_class=4",
    "data.synthetic_test_per_class=2",
    "data.labeled_per_class=1",
    "data.short_side_range=[32,40]",
    "data.crop_size=32",
    "data.weak_short_side=36",
    "data.num_workers=0",
    "model.primary.name=r10_w0.125",
    "model.auxiliary.name=r10_w0.125",
    "train.labeled_batch=2",
    "method.unlabeled_ratio=2",
    "schedule.iterations=4",
    "schedule.warmup_iterations=1",
    "train.log_every=1",
    "train.checkpoint_every=2",
    "eval.num_clips=2",
    "eval.num_crops=1",
    "eval.short_side=36",
    "eval.crop_size=32",
    "eval.batch_size=8",
]
"""A run small enough for a 2-core CPU in seconds, through the same code as a real one: ``cmpl demo --quick``
and the tests' end-to-end runs check the pipeline with it, never the accuracy."""


class ConfigError(UserError, ValueError):
    """A bad key or value in a config file or override; the message names the key."""


def _choice(*allowed: object) -> dict[str, Any]:
    return {"choices": allowed}


def _show(value: object) -> str:
    """A value as it is written in YAML (``true``, not ``True``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _range(lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    return {"range": (lo, hi)}


@dataclass
class DataConfig:
    """Where videos come from and how clips are cut from them (paper Sec. 3.3, 4.1)."""

    format: str = field(
        default="synthetic",
        metadata=_choice("synthetic", "list", "folder", "ucf101", "hmdb51", "kinetics400"),
    )
    root: str = "data/synthetic"
    split: int = field(default=1, metadata=_range(1, 3))
    labeled_per_class: int = field(default=1, metadata=_range(0))  # 0: every training video is labeled
    # uniform: labeled_per_class videos of every class (Sec. 4.1); category_wise: labeled_per_class x classes
    # videos in all, per class in proportion to the training set's class sizes (Table A3)
    labeled_sampling: str = field(default="uniform", metadata=_choice("uniform", "category_wise"))
    split_seed: int = 0
    # hand-checked labels for the labeled set (cmpl label's review page export, Label Studio's JSON export or
    # any "path label" list; see cmpl.data.extra_labels): they join the labeled set and leave the unlabeled one
    extra_labels: str = ""
    # an unlabeled set of its own instead of the labeled collection's remainder (Table A1: UCF-101 labeled,
    # Kinetics-400 unlabeled): "videos" (every video under unlabeled_root, no labels) or a dataset format
    # whose train subset is read and whose labels are ignored; "" = the remainder of the labeled split
    unlabeled_format: str = field(
        default="", metadata=_choice("", "videos", "list", "folder", "ucf101", "hmdb51", "kinetics400")
    )
    unlabeled_root: str = ""
    keep_labeled_in_unlabeled: bool = False
    # regex removed from file names (no extension) to group videos that must share a side of the split,
    # e.g. "_c\\d+$" for UCF-101 clips of one source video, "_flip$" for mirrored copies; "" = no groups
    split_group_pattern: str = ""
    # > 0: hold out this fraction of every class of the train set as the test set (for collections without
    # one, e.g. a plain folder per class), seeded by test_seed and keeping split_group_pattern groups whole
    test_fraction: float = field(default=0.0, metadata=_range(0, 0.9))
    test_seed: int = 0
    # with test_fraction: a regex whose first match in a file name names its subject (e.g. "actor\\d+"), so
    # that the test set holds out whole subjects in every class, none of them seen in training under any label;
    # "" = hold out videos (split_group_pattern groups) per class
    subject_pattern: str = ""
    # t_s (Sec. 3.3): A's window starts up to this many seconds from F's; 10 is Table 5's best and what the
    # paper's main results use (Table 2's 'temporal loc.'); 0 gives both networks one window
    time_offset_s: float = field(default=10.0, metadata=_range(0))
    short_side_range: tuple[int, int] = (256, 320)
    crop_size: int = field(default=224, metadata=_range(8))
    horizontal_flip: bool = True
    weak_short_side: int = field(default=256, metadata=_range(8))
    randaugment_ops: int = field(default=2, metadata=_range(0))
    randaugment_magnitude: int = field(default=10, metadata=_range(0, 30))
    cutout_ratio: float = field(default=0.5, metadata=_range(0, 1))
    backend: str = field(default="pyav", metadata=_choice("pyav", "torchcodec", "torchcodec_cuda"))
    # keep every decoded video in each loader process's memory: only for small datasets (the demo's)
    cache_decoded: bool = False
    num_workers: int = field(default=4, metadata=_range(0))
    synthetic_train_per_class: int = field(default=60, metadata=_range(1))
    synthetic_test_per_class: int = field(default=20, metadata=_range(1))
    synthetic_seed: int = 0
    # v2: the demo's classes; v3: classes built to model the paper's Fig. 1 (cmpl.data.synthetic)
    synthetic_version: str = field(default="v2", metadata=_choice("v2", "v3"))


@dataclass
class NetworkConfig:
    """One network of a run (``model.primary`` or ``model.auxiliary``): its architecture by name (``cmpl
    models`` lists them), its clip sampling, its starting weights and its own build options, so F and A can
    differ in everything. The build options are the keyword arguments of ``cmpl.models.build_model``."""

    name: str = "r50"
    frames: int = field(default=8, metadata=_range(1))
    stride: int = field(default=8, metadata=_range(1))
    # starting weights (cmpl.models.weights, docs/pretrained.md): a checkpoint file, a cmpl run folder, or
    # torchvision:<WEIGHTS_NAME> from torch's hub cache; "" = random initialisation
    init_from: str = ""
    # res2-res5 temporal kernels and conv1's (3D-ResNets only); null: the name's layout (r50: Table A4's
    # 3,3,3,3 and 5; slow_r50: PySlowFast Slow-only's 1,1,3,3 and 1)
    temporal_kernels: tuple[int, int, int, int] | None = None
    stem_temporal_kernel: int | None = field(default=None, metadata=_range(1))
    dropout: float = field(default=0.5, metadata=_range(0, 1))
    # BatchNorm on its running statistics only, in training too (no batch dependence; pretrained statistics
    # stay as loaded); its scale and shift still learn
    freeze_bn_stats: bool = False
    # train-mode BatchNorm statistics over chunks of this many clips of a forward pass (ghost batch
    # normalisation, Hoffer et al. 2017); 0: over the whole pass
    batchnorm_ghost_batch: int = field(default=0, metadata=_range(0))
    # frames of a few dozen pixels (the synthetic demo): 3x3 stem, pooling between stages (3D-ResNets only)
    small_input: bool = False

    def build_options(self) -> dict[str, Any]:
        """The keyword options for ``cmpl.models.build_model``: the shared ones always, the 3D-ResNet ones
        where set (so a network that does not take them builds)."""
        options: dict[str, Any] = {
            "dropout": self.dropout,
            "freeze_bn_stats": self.freeze_bn_stats,
            "batchnorm_ghost_batch": self.batchnorm_ghost_batch,
        }
        if self.temporal_kernels is not None:
            options["temporal_kernels"] = self.temporal_kernels
        if self.stem_temporal_kernel is not None:
            options["stem_temporal_kernel"] = self.stem_temporal_kernel
        if self.small_input:
            options["small_input"] = True
        return options


@dataclass
class AuxiliaryNetworkConfig(NetworkConfig):
    """The auxiliary network's defaults: 3D-ResNet50 x 1/4 on 16 frames x stride 4 (paper Sec. 4.1)."""

    name: str = "r50_w0.25"
    frames: int = field(default=16, metadata=_range(1))
    stride: int = field(default=4, metadata=_range(1))


@dataclass
class ModelConfig:
    """Primary F and auxiliary A, each a block of its own (:class:`NetworkConfig`)."""

    primary: NetworkConfig = field(default_factory=NetworkConfig)
    auxiliary: AuxiliaryNetworkConfig = field(default_factory=AuxiliaryNetworkConfig)


# the flat model keys before networks had blocks of their own -> the one line that says what to write now
_NETWORK_OPTIONS = (
    "temporal_kernels",
    "stem_temporal_kernel",
    "dropout",
    "batchnorm_ghost_batch",
    "small_input",
)
_MOVED_MODEL_KEYS = {
    **{
        f"{role}_{what}": f"now model.{role}.{what}"
        for role in ("primary", "auxiliary")
        for what in ("frames", "stride")
    },
    **{
        key: f"now per network; write model.primary.{key}=... and model.auxiliary.{key}=..."
        for key in _NETWORK_OPTIONS
    },
    "norm_eval": "now per network; write model.primary.freeze_bn_stats=... and model.auxiliary.freeze_bn_stats=...",
}


def upgrade_saved_model_keys(values: dict[str, Any]) -> dict[str, Any]:
    """A config that cmpl saved before 0.2.0 (a run's ``config.yaml``, a checkpoint's ``config``) with its
    flat model keys read into each network's block, so that older runs still evaluate, predict and resume; a
    config in today's layout comes back as it was. Configs a user writes are not upgraded: there an old key
    stops with one line that names the new one."""
    model = values.get("model")
    if not isinstance(model, dict):
        return values
    blocks = {
        role: dict(model[role]) if isinstance(model.get(role), dict) else {"name": model[role]}
        for role in ("primary", "auxiliary")
        if model.get(role) is not None
    }
    upgraded: dict[str, Any] = {}
    for key, value in model.items():
        role, _, what = key.partition("_")
        if key in blocks:
            continue
        if role in blocks and what in ("frames", "stride"):
            blocks[role][what] = value
        elif key in _NETWORK_OPTIONS or key == "norm_eval":
            for block in blocks.values():
                block.setdefault("freeze_bn_stats" if key == "norm_eval" else key, value)
        else:
            upgraded[key] = value
    return {**values, "model": {**upgraded, **blocks}}


def load_saved_config(path: str | Path) -> Config:
    """A run folder's ``config.yaml``, by any version of cmpl (see :func:`upgrade_saved_model_keys`)."""
    return _validated(upgrade_saved_model_keys(_read_yaml(Path(path))))


def _check_moved_model_keys(values: dict[str, Any]) -> None:
    model = values.get("model")
    if not isinstance(model, dict):
        return
    for role in ("primary", "auxiliary"):
        if role in model and not isinstance(model[role], dict) and model[role] is not None:
            raise ConfigError(f"model.{role}: now a block; write model.{role}.name={model[role]}")
    for key in model:
        if key in _MOVED_MODEL_KEYS:
            raise ConfigError(f"model.{key}: {_MOVED_MODEL_KEYS[key]}")


@dataclass
class MethodConfig:
    """Which algorithm trains and its hyper-parameters (paper Eq. 1-6, Sec. 4.1, Tables 2, 6, A2)."""

    name: str = "cmpl"  # a registered method (cmpl.methods): supervised, fixmatch, cmpl
    threshold: float = field(default=0.9, metadata=_range(0, 1))
    unlabeled_weight: float = field(default=5.0, metadata=_range(0))
    unlabeled_ratio: int = field(default=5, metadata=_range(1))
    # share of the iterations trained on labeled clips alone before the unlabeled loss starts (not in the
    # paper; common in video semi-supervised code): pseudo-labels come only from a network that can predict
    supervised_warmup: float = field(default=0.0, metadata=_range(0, 0.99))
    pseudo_labels: str = field(
        default="cross", metadata=_choice("cross", "self_first", "opposite_first", "maximum", "average")
    )
    # which clips share a forward pass and so BatchNorm's batch statistics (methods/base.py predict_views):
    # joint (FixMatch's code: labeled, weak and strong together), strong_apart, labeled_apart
    batchnorm_groups: str = field(default="joint", metadata=_choice("joint", "strong_apart", "labeled_apart"))
    share_weights: bool = False
    auxiliary_supervised: bool = True
    auxiliary_unsupervised: bool = True


@dataclass
class OptimConfig:
    """SGD with the linear scaling rule: lr = base_lr * global_labeled_batch / reference_labeled_batch."""

    base_lr: float = field(default=0.1, metadata=_range(0))
    reference_labeled_batch: int = field(default=32, metadata=_range(1))
    momentum: float = field(default=0.9, metadata=_range(0, 1))
    weight_decay: float = field(default=1e-4, metadata=_range(0))
    nesterov: bool = False
    # learning-rate multiplier of the parameters a network's init_from loaded (fine-tuning); the rest (a new
    # classifier, a network without init_from) keep the base rate
    pretrained_lr_scale: float = field(default=1.0, metadata=_range(0))


@dataclass
class ScheduleConfig:
    """Iteration-driven cosine schedule with linear warm-up.

    ``epochs`` > 0 sets ``iterations`` at the start of a run from the data: one epoch is one pass of the
    global unlabeled batch (``labeled_batch * unlabeled_ratio * GPUs``) over the unlabeled set, for every
    method, so that the supervised baseline gets the same number of steps as FixMatch and CMPL and a config
    keeps its meaning on any number of GPUs. The resolved count is saved with the run.
    """

    iterations: int = field(default=1000, metadata=_range(1))
    epochs: float = field(default=0.0, metadata=_range(0))  # > 0: iterations = epochs over the unlabeled set
    # > 0: an epoch counts this B_u/B_l instead of method.unlabeled_ratio, so a sweep of the ratio (Fig. 4b)
    # trains the same number of iterations as the base run
    epoch_unlabeled_ratio: int = field(default=0, metadata=_range(0))
    warmup_iterations: int = field(default=0, metadata=_range(0))
    final_lr_ratio: float = field(default=0.0, metadata=_range(0, 1))


@dataclass
class TrainConfig:
    """The loop: batch per process, devices, precision, checkpoints and logging cadence."""

    labeled_batch: int = field(default=2, metadata=_range(1))
    seed: int = 0
    device: str = "auto"
    # bf16 autocast and channels_last_3d tensors: auto = on CUDA only (where they pay off); true also on the
    # CPU (slower there, but it runs the GPU path's code), false never
    amp: bool | str = field(default="auto", metadata=_choice("auto", True, False))
    channels_last: bool | str = field(default="auto", metadata=_choice("auto", True, False))
    compile: bool = False
    sync_batchnorm: bool = False  # per-GPU BatchNorm by default; SyncBatchNorm across GPUs (CUDA only)
    output_dir: str = "runs/default"
    checkpoint_every: int = field(default=500, metadata=_range(1))
    # checkpoints kept: 1 keeps checkpoints/last.pt only; K > 1 also keeps iter_<N>.pt of the last K (the
    # newest one is last.pt, hard-linked, so it takes no more space)
    keep_checkpoints: int = field(default=1, metadata=_range(1))
    # consecutive steps with a non-finite loss or gradient (each one skipped) after which training stops
    max_nonfinite_steps: int = field(default=10, metadata=_range(1))
    eval_every: int = field(default=0, metadata=_range(0))
    # Figs. 2 and 6: every this many epochs (the paper: 10), each network scores the unlabeled set in eval
    # mode into unlabeled_scores.jsonl; 0: never. score_unlabeled_videos > 0: a fixed sample of that many
    # (seeded by data.split_seed, so a CMPL and a FixMatch run of one split score the same videos)
    score_unlabeled_every: float = field(default=0.0, metadata=_range(0))
    score_unlabeled_videos: int = field(default=0, metadata=_range(0))
    log_every: int = field(default=10, metadata=_range(1))
    progress: bool = True


@dataclass
class EvalConfig:
    """Test protocol (Sec. 4.1): clips uniformly over the video x spatial crops, softmax averaged."""

    num_clips: int = field(default=10, metadata=_range(1))
    num_crops: int = field(default=3, metadata=_range(1, 3))
    short_side: int = field(default=256, metadata=_range(8))
    crop_size: int = field(default=256, metadata=_range(8))
    batch_size: int = field(default=4, metadata=_range(1))
    max_videos: int = field(default=0, metadata=_range(0))


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def _coerce(key: str, hint: Any, value: Any) -> Any:
    """Convert a YAML value to the annotated type, or raise a ConfigError that names the key."""
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{key}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(f"{key}[{i}]", a, v) for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(hint):
            try:
                return _coerce(key, option, value)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[-1])
    if hint is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key}: expected null, got {value!r}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if hint is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # YAML 1.1 reads "5e-2" (no dot) as a string
            with contextlib.suppress(ValueError):
                number = float(value)
        if number is None:
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(number):  # NaN passes every comparison, so no range would catch it
            raise ConfigError(f"{key}: must be a finite number, got {value!r}")
        return number
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported type {hint}")


def _check(key: str, value: Any, metadata: typing.Mapping[str, Any]) -> None:
    if value is None:
        return
    if "choices" in metadata and value not in metadata["choices"]:
        allowed = ", ".join(map(_show, metadata["choices"]))
        raise ConfigError(f"{key}: must be one of {allowed}; got {value!r}")
    if "range" in metadata:
        lo, hi = metadata["range"]
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
            raise ConfigError(f"{key}: must be {'in ' if hi is not None else ''}{bounds}, got {value!r}")


def _build(cls: type, values: Any, prefix: str) -> Any:
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        key = f"{prefix}{unknown[0]}"
        raise ConfigError(f"{key}: unknown key; allowed: {', '.join(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        key, hint = f"{prefix}{name}", hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, f"{key}.")
        else:
            kwargs[name] = _coerce(key, hint, value)
            _check(key, kwargs[name], fields[name].metadata)
    return cls(**kwargs)


def config_to_dict(config: Config) -> dict[str, Any]:
    """Plain nested dict (tuples as lists), ready for YAML or JSON."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(config))


def _parse_override(override: str) -> tuple[list[str], Any]:
    if "=" not in override:
        raise ConfigError(f"{override}: overrides look like section.key=value")
    key, raw = override.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"{key}: cannot parse value {raw!r} ({e.__class__.__name__})") from None
    return key.strip().split("."), value


def apply_overrides(values: dict[str, Any], overrides: typing.Iterable[str]) -> dict[str, Any]:
    """Set ``a.b=value`` pairs in a nested dict; values are parsed as YAML (``1e-3``, ``[1, 2]``, ``true``)."""
    for override in overrides:
        path, value = _parse_override(override)
        node = values
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"{'.'.join(path)}: {part} is not a section")
            node = child
        node[path[-1]] = value
    return values


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        both_dicts = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merge(merged[key], value) if both_dicts else value
    return merged


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A YAML mapping; ``_base_: other.yaml`` (relative to this file) is read first and overridden here."""
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    if path.resolve() in seen:
        raise ConfigError(f"{path}: _base_ chain loops back to itself")
    try:
        values = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if values is None:
        raise ConfigError(
            f"{path}: empty config file; give at least one section (e.g. data:) or a _base_, or name a "
            "shipped config (cmpl configs lists them)"
        )
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    base = values.pop("_base_", None)
    if base is None:
        return values
    return _merge(_read_yaml(path.parent / str(base), (*seen, path.resolve())), values)


SHIPPED_CONFIGS = Path(__file__).parent / "configs"


def config_names() -> list[str]:
    """The configs shipped inside the package, by the name that ``resolve_config`` takes
    (``demo``, ``ucf101/cmpl_r50_1pct``); files that start with ``_`` are bases, not experiments."""
    return sorted(
        p.relative_to(SHIPPED_CONFIGS).with_suffix("").as_posix()
        for p in SHIPPED_CONFIGS.rglob("*.yaml")
        if not p.name.startswith("_")
    )


def resolve_config(name: str | Path) -> Path:
    """A YAML path as given, or a shipped config by name (``ucf101/cmpl_r50_1pct``, ``.yaml`` optional)."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = SHIPPED_CONFIGS / path.with_suffix(".yaml")
    if shipped.is_file() and not path.is_absolute():
        return shipped
    raise ConfigError(
        f"{name}: config file not found, nor a shipped config of that name (see 'cmpl configs')"
    )


def load_config(path: str | Path | None = None, overrides: typing.Iterable[str] = ()) -> Config:
    """Read a YAML file (or nothing: defaults) with its ``_base_`` chain, apply overrides, validate."""
    values = apply_overrides(_read_yaml(resolve_config(path)) if path is not None else {}, overrides)
    return _validated(values)


def _validated(values: dict[str, Any]) -> Config:
    schedule = values.get("schedule") or {}
    if isinstance(schedule, dict) and "iterations" in schedule and (schedule.get("epochs") or 0) > 0:
        raise ConfigError(
            f"schedule.iterations: this config counts schedule.epochs ({schedule['epochs']}); "
            "add schedule.epochs=0 to give an iteration count instead"
        )
    _check_moved_model_keys(values)
    config = _build(Config, values, "")
    _check_consistency(config)
    return config


def _check_networks(config: Config) -> None:
    """Every network's name is registered and takes the options its block sets: one line at load time,
    before a run writes anything (the registry is read lazily: importing it imports torch)."""
    from cmpl.models.registry import UnknownModelError, get_model_entry

    for role in ("primary", "auxiliary"):
        network: NetworkConfig = getattr(config.model, role)
        try:
            entry = get_model_entry(network.name)
        except UnknownModelError:
            raise ConfigError(
                f"model.{role}.name: unknown network {network.name!r}; 'cmpl models' lists the names"
            ) from None
        spec = entry.input
        if spec.exact and network.frames != spec.frames:
            raise ConfigError(f"model.{role}.frames: {network.name} takes exactly {spec.frames} frames")
        for key in ("data.crop_size", "eval.crop_size"):
            section, name = key.split(".")
            crop = getattr(getattr(config, section), name)
            if spec.exact and crop != spec.crop_size:
                raise ConfigError(
                    f"{key}: {network.name} takes exactly {spec.crop_size} x {spec.crop_size} crops"
                )
        unknown = sorted(set(network.build_options()) - entry.options)
        if unknown:
            raise ConfigError(
                f"model.{role}.{unknown[0]}: {network.name} does not take this option (it takes "
                f"{', '.join(sorted(entry.options))})"
            )


def _check_consistency(config: Config) -> None:
    _check_networks(config)
    lo, hi = config.data.short_side_range
    if lo > hi:
        raise ConfigError(f"data.short_side_range: low end {lo} is above high end {hi}")
    if lo < config.data.crop_size:
        raise ConfigError(
            f"data.short_side_range: {lo} is smaller than data.crop_size {config.data.crop_size}"
        )
    if config.data.weak_short_side < config.data.crop_size:
        raise ConfigError(
            f"data.weak_short_side: {config.data.weak_short_side} is smaller than data.crop_size"
        )
    if bool(config.data.unlabeled_format) != bool(config.data.unlabeled_root):
        raise ConfigError("data.unlabeled_root: set it together with data.unlabeled_format (or neither)")
    if (
        config.data.labeled_per_class == 0
        and not config.data.unlabeled_format
        and config.method.name != "supervised"
    ):
        raise ConfigError(
            "data.labeled_per_class: 0 labels every training video; give data.unlabeled_format and "
            "data.unlabeled_root for the unlabeled set"
        )
    if config.data.labeled_per_class == 0 and config.data.labeled_sampling != "uniform":
        raise ConfigError(
            "data.labeled_per_class: 0 (every video labeled) needs data.labeled_sampling=uniform"
        )
    for key in ("split_group_pattern", "subject_pattern"):
        try:
            re.compile(getattr(config.data, key))
        except re.error as error:
            raise ConfigError(f"data.{key}: not a regular expression ({error})") from None
    if config.data.subject_pattern and config.data.test_fraction == 0:
        raise ConfigError("data.subject_pattern: only draws a held-out test set; give data.test_fraction > 0")
    if config.data.backend == "torchcodec_cuda" and config.data.num_workers > 0:
        raise ConfigError(
            f"data.backend: torchcodec_cuda decodes with CUDA, which forked loader workers cannot use; give "
            f"data.num_workers=0 with it (got {config.data.num_workers}) or data.backend=torchcodec"
        )
    if config.eval.short_side < config.eval.crop_size:
        raise ConfigError(f"eval.short_side: {config.eval.short_side} is smaller than eval.crop_size")
    if config.schedule.epochs == 0 and config.schedule.warmup_iterations >= config.schedule.iterations:
        raise ConfigError("schedule.warmup_iterations: must be below schedule.iterations")


def save_config(config: Config, path: Path) -> None:
    path.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
