"""Config loading: defaults, YAML, overrides, and one clear line for every bad key or value."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import yaml

from cmpl.config import (
    SHIPPED_CONFIGS,
    Config,
    ConfigError,
    config_to_dict,
    load_config,
    load_saved_config,
    save_config,
    upgrade_saved_model_keys,
)
from cmpl.engine.optim import resolve_iterations
from cmpl.models import build_model


def test_defaults_follow_the_paper():
    c = load_config()
    assert (c.method.name, c.method.threshold, c.method.unlabeled_weight, c.method.unlabeled_ratio) == (
        "cmpl",
        0.9,
        5.0,
        5,
    )
    assert (c.model.primary.name, c.model.auxiliary.name) == ("r50", "r50_w0.25")
    assert (
        c.model.primary.frames,
        c.model.primary.stride,
        c.model.auxiliary.frames,
        c.model.auxiliary.stride,
    ) == (8, 8, 16, 4)
    assert (c.optim.momentum, c.optim.weight_decay) == (0.9, 1e-4)
    assert (c.eval.num_clips, c.eval.num_crops) == (10, 3)
    assert c.train.labeled_batch == 2


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method:\n  threshold: 0.8\ndata:\n  short_side_range: [300, 340]\n")
    c = load_config(
        path, ["method.threshold=0.95", "optim.base_lr=5e-2", "model.auxiliary.temporal_kernels=[3,3,3,3]"]
    )
    assert c.method.threshold == 0.95
    assert c.optim.base_lr == 0.05
    assert c.data.short_side_range == (300, 340)
    assert c.model.auxiliary.temporal_kernels == (3, 3, 3, 3) and c.model.primary.temporal_kernels is None


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("method.treshold=0.5", "method.treshold: unknown key"),
        ("methods.name=cmpl", "methods: unknown key"),
        ("method.threshold=1.5", "method.threshold: must be in [0, 1], got 1.5"),
        ("data.format=youtube", "data.format: must be one of"),
        ("train.labeled_batch=two", "train.labeled_batch: expected an integer"),
        ("train.amp=maybe", "train.amp: must be one of auto, true, false"),
        ("data.short_side_range=[300]", "data.short_side_range: expected a list of 2 values"),
        ("schedule.warmup_iterations=5000", "schedule.warmup_iterations: must be below"),
        ("data.crop_size=400", "data.short_side_range: 256 is smaller than data.crop_size"),
        ("threshold", "overrides look like"),
        ("model.primary=r50", "model.primary: now a block; write model.primary.name=r50"),
        ("model.auxiliary=r18", "model.auxiliary: now a block; write model.auxiliary.name=r18"),
        ("model.primary_frames=16", "model.primary_frames: now model.primary.frames"),
        ("model.auxiliary_stride=2", "model.auxiliary_stride: now model.auxiliary.stride"),
        ("model.dropout=0.1", "model.dropout: now per network; write model.primary.dropout=... and"),
        ("model.temporal_kernels=[1,1,3,3]", "model.temporal_kernels: now per network; write model.primary."),
        ("model.norm_eval=true", "model.norm_eval: now per network; write model.primary.freeze_bn_stats=..."),
        (
            "model.primary.name=r999",
            "model.primary.name: unknown network 'r999'; 'cmpl models' lists the names",
        ),
        ("model.auxiliary.name=resnet50", "model.auxiliary.name: unknown network 'resnet50'"),
        (
            "model.primary.frame=8",
            "model.primary.frame: unknown key; allowed: name, frames, stride, init_from",
        ),
        ("model.primary.name=mvit_v2_s", "model.primary.frames: mvit_v2_s takes exactly 16 frames"),
        ("model.auxiliary.name=mvit_v1_b", "eval.crop_size: mvit_v1_b takes exactly 224 x 224 crops"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_each_network_has_its_own_block():
    c = load_config(
        None,
        [
            "model.primary.name=r3d_18",
            "model.primary.frames=16",
            "model.primary.dropout=0.2",
            "model.auxiliary.name=r10_w0.125",
            "model.auxiliary.temporal_kernels=[1,1,3,3]",
            "model.auxiliary.freeze_bn_stats=true",
        ],
    )
    assert (c.model.primary.name, c.model.primary.frames, c.model.primary.stride) == ("r3d_18", 16, 8)
    assert c.model.primary.build_options() == {
        "dropout": 0.2,
        "freeze_bn_stats": False,
        "batchnorm_ghost_batch": 0,
    }
    assert c.model.auxiliary.build_options()["temporal_kernels"] == (1, 1, 3, 3)
    assert (c.model.auxiliary.frames, c.model.auxiliary.dropout, c.model.auxiliary.freeze_bn_stats) == (
        16,
        0.5,
        True,
    )
    with pytest.raises(ConfigError, match=r"^model.primary.small_input: r3d_18 does not take this option"):
        load_config(None, ["model.primary.name=r3d_18", "model.primary.small_input=true"])


def test_unknown_network_stops_before_the_run_folder_is_touched(tmp_path, capsys):
    """Issue 42, item 4: one line at config load time, before any split file is written."""
    from cmpl import cli

    run_dir = tmp_path / "run"
    status = cli.main(["train", "demo", "model.primary.name=r999", f"train.output_dir={run_dir}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status != 0 and not run_dir.exists()
    assert err == ["error: model.primary.name: unknown network 'r999'; 'cmpl models' lists the names"]


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("method: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_saved_config_round_trips(tmp_path):
    c = load_config(None, ["method.name=fixmatch", "data.time_offset_s=2.5"])
    save_config(c, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert again == c
    assert yaml.safe_load((tmp_path / "config.yaml").read_text()) == config_to_dict(c)
    assert isinstance(again, Config)


CONFIGS = SHIPPED_CONFIGS


def _build_networks(c: Config) -> None:
    """Both networks of a config build (on the meta device: no memory, no compute)."""
    with torch.device("meta"):
        for network in (c.model.primary, c.model.auxiliary):
            build_model(network.name, 400, **network.build_options())


@pytest.mark.parametrize(
    "path",
    sorted(p for p in CONFIGS.rglob("*.yaml") if not p.name.startswith("_")),
    ids=lambda p: str(p.relative_to(CONFIGS)),
)
def test_every_shipped_config_loads(path):
    c = load_config(path)
    _build_networks(c)
    assert c.method.name in ("supervised", "fixmatch", "cmpl")
    if path.parent.name in ("kinetics400", "ucf101"):  # the paper's runs
        everything_labeled = (
            c.data.labeled_per_class == 0 and not c.data.unlabeled_format
        )  # Table A1's init rows
        assert c.schedule.epochs > 0 or everything_labeled
        assert c.model.primary.name in ("r50", "r18", "r50_w0.25", "slowfast_r50")
    elif (
        path.parent.name == "weizmann4"
    ):  # the demo recipe on real clips: a held-out test split of a plain folder per class
        assert c.data.format == "folder" and c.data.test_fraction > 0 and c.schedule.iterations > 0


def test_analysis_run_differs_from_the_supervised_baseline_only_in_the_network():
    small = config_to_dict(load_config(CONFIGS / "kinetics400" / "supervised_r50w025_1pct.yaml"))
    large = config_to_dict(load_config(CONFIGS / "kinetics400" / "supervised_r50_1pct.yaml"))
    assert (
        small["model"]["primary"].pop("name") == "r50_w0.25"
        and large["model"]["primary"].pop("name") == "r50"
    )
    assert small["train"].pop("output_dir") != large["train"].pop("output_dir")
    assert small == large


def test_table_a1_init_rows_differ_only_in_the_primarys_starting_weights():
    random = config_to_dict(load_config("ucf101/supervised_r50_random_init"))
    imagenet = config_to_dict(load_config("ucf101/supervised_r50_imagenet_init"))
    assert imagenet["model"]["primary"].pop("init_from") == "torchvision:ResNet50_Weights.IMAGENET1K_V1"
    assert random["model"]["primary"].pop("init_from") == ""
    assert random["train"].pop("output_dir") != imagenet["train"].pop("output_dir")
    assert random == imagenet
    assert (random["data"]["labeled_per_class"], random["method"]["name"]) == (0, "supervised")


def test_folder_config_fine_tunes_a_kinetics_network_at_its_own_input():
    from cmpl.models import get_model_entry

    c = load_config("folder/finetune_r3d18")
    spec = get_model_entry(c.model.primary.name).input
    assert c.data.format == "folder" and c.data.test_fraction > 0
    assert c.model.primary.init_from == "torchvision:R3D_18_Weights.KINETICS400_V1"
    assert (c.model.primary.frames, c.data.crop_size, c.eval.crop_size) == (spec.frames, spec.crop_size, 112)
    assert c.optim.pretrained_lr_scale < 1 and c.model.auxiliary.init_from == ""


def test_paper_recipes_differ_where_the_paper_says():
    ucf = load_config(CONFIGS / "ucf101" / "cmpl_r50_1pct.yaml")
    k400 = load_config(CONFIGS / "kinetics400" / "cmpl_r50_1pct.yaml")
    k400_10 = load_config(CONFIGS / "kinetics400" / "cmpl_r50_10pct.yaml")
    assert (ucf.optim.weight_decay, k400.optim.weight_decay) == (1e-3, 1e-4)
    assert (ucf.data.labeled_per_class, k400.data.labeled_per_class, k400_10.data.labeled_per_class) == (
        1,
        6,
        60,
    )
    assert (k400.method.unlabeled_weight, k400_10.method.unlabeled_weight) == (5.0, 2.0)
    assert (k400.eval.num_clips, k400.eval.num_crops, k400.eval.crop_size) == (10, 3, 256)


def test_base_chain_merges_sections_and_detects_loops(tmp_path):
    (tmp_path / "a.yaml").write_text("method:\n  threshold: 0.7\n  unlabeled_weight: 3\n")
    (tmp_path / "b.yaml").write_text("_base_: a.yaml\nmethod:\n  threshold: 0.8\n")
    c = load_config(tmp_path / "b.yaml")
    assert (c.method.threshold, c.method.unlabeled_weight) == (0.8, 3.0)
    (tmp_path / "a.yaml").write_text("_base_: b.yaml\n")
    with pytest.raises(ConfigError, match="loops"):
        load_config(tmp_path / "b.yaml")


def test_epochs_become_iterations_over_the_unlabeled_set():
    c = load_config(None, ["schedule.epochs=2", "schedule.warmup_iterations=3", "train.labeled_batch=2"])
    resolved = resolve_iterations(c, num_items=1000, world=4)  # global unlabeled batch 2 x 5 x 4
    assert resolved.schedule.iterations == 50 and resolved.schedule.epochs == 0
    with pytest.raises(ConfigError, match="warmup"):
        resolve_iterations(c, num_items=10, world=4)


def test_fig4b_sweep_keeps_the_iteration_count_of_the_base():
    """Fig. 4b varies B_u/B_l at a fixed iteration count: epochs count the base's ratio (5), not the row's."""
    base = load_config(CONFIGS / "kinetics400" / "ablation_base.yaml")
    counts = {
        ratio: resolve_iterations(
            load_config(
                CONFIGS / "kinetics400" / "ablation_base.yaml",
                [f"method.unlabeled_ratio={ratio}", "schedule.epoch_unlabeled_ratio=5"],
            ),
            num_items=240_000,
            world=16,
        ).schedule.iterations
        for ratio in (1, 2, 5, 10)
    }
    assert set(counts.values()) == {resolve_iterations(base, num_items=240_000, world=16).schedule.iterations}


def test_iterations_and_epochs_together_is_an_error():
    with pytest.raises(ConfigError, match=r"schedule\.iterations: this config counts schedule\.epochs"):
        load_config(CONFIGS / "ucf101" / "cmpl_r50_1pct.yaml", ["schedule.iterations=10"])
    c = load_config(
        CONFIGS / "ucf101" / "cmpl_r50_1pct.yaml", ["schedule.iterations=2000", "schedule.epochs=0"]
    )
    assert c.schedule.iterations == 2000


def test_split_group_pattern_must_be_a_regex():
    with pytest.raises(ConfigError, match=r"data.split_group_pattern: not a regular expression"):
        load_config(None, ["data.split_group_pattern=_c(\\d+$"])
    assert load_config(None, ["data.split_group_pattern=_c\\d+$"]).data.split_group_pattern == "_c\\d+$"


def test_subject_pattern_must_be_a_regex_and_comes_with_a_held_out_test_set():
    with pytest.raises(ConfigError, match=r"data.subject_pattern: not a regular expression"):
        load_config(None, ["data.subject_pattern=actor(\\d+", "data.test_fraction=0.3"])
    with pytest.raises(ConfigError, match=r"data.subject_pattern: only draws a held-out test set"):
        load_config(None, ["data.subject_pattern=actor\\d+"])
    config = load_config(None, ["data.subject_pattern=actor\\d+", "data.test_fraction=0.3"])
    assert config.data.subject_pattern == "actor\\d+"


def test_outside_unlabeled_source_is_checked():
    c = load_config(CONFIGS / "ucf101" / "cmpl_r50_kinetics_unlabeled.yaml")
    assert (c.data.labeled_per_class, c.data.unlabeled_format) == (0, "kinetics400")
    with pytest.raises(ConfigError, match="unlabeled_root"):
        load_config(None, ["data.unlabeled_format=videos"])
    with pytest.raises(ConfigError, match="labeled_per_class"):
        load_config(None, ["data.labeled_per_class=0"])


README = (Path(__file__).resolve().parents[1] / "docs" / "configs.md").read_text()
_OVERRIDE_SETS = sorted(
    {span for span in re.findall(r"`([^`]+)`", README) if all("=" in token for token in span.split())}
)


def test_configs_readme_names_only_shipped_configs():
    named = set(re.findall(r"`((?:ucf101|kinetics400)/\w+\.yaml)`", README))
    assert len(named) > 10
    assert all((CONFIGS / name).is_file() for name in named), sorted(
        n for n in named if not (CONFIGS / n).is_file()
    )


@pytest.mark.parametrize("overrides", _OVERRIDE_SETS)
def test_every_override_line_of_the_configs_readme_validates(overrides):
    """Each override set in docs/configs.md, on the ablation base, loads and builds its networks."""
    c = load_config(CONFIGS / "kinetics400" / "ablation_base.yaml", overrides.split())
    _build_networks(c)


def test_demo_long_is_the_demo_recipe_with_more_iterations_at_the_papers_ratio():
    short, long = (config_to_dict(load_config(SHIPPED_CONFIGS / f"{n}.yaml")) for n in ("demo", "demo_long"))
    assert long["schedule"]["iterations"] > short["schedule"]["iterations"]
    assert (short["method"]["unlabeled_ratio"], long["method"]["unlabeled_ratio"]) == (2, 5)
    for config in (short, long):
        del config["schedule"], config["train"]["output_dir"], config["method"]["unlabeled_ratio"]
    assert long == short  # README: --long changes the budget and B_u/B_l, nothing else


def test_a_run_saved_before_network_blocks_still_loads(tmp_path):
    """A run folder's config.yaml from before 0.2.0 (flat model keys) reads into each network's block, so
    older runs still evaluate, predict and resume; a config a user writes with those keys still stops."""
    old = config_to_dict(load_config(SHIPPED_CONFIGS / "demo.yaml"))
    primary, auxiliary = old["model"].pop("primary"), old["model"].pop("auxiliary")
    old["model"].update(
        primary=primary["name"],
        auxiliary=auxiliary["name"],
        primary_frames=primary["frames"],
        primary_stride=primary["stride"],
        auxiliary_frames=auxiliary["frames"],
        auxiliary_stride=auxiliary["stride"],
        dropout=primary["dropout"],
        temporal_kernels=primary["temporal_kernels"],
        stem_temporal_kernel=primary["stem_temporal_kernel"],
        small_input=primary["small_input"],
        norm_eval=True,
    )
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(old))
    with pytest.raises(ConfigError, match=r"model\.primary: now a block"):
        load_config(path)
    saved = load_saved_config(path)
    assert saved.model.primary.name == primary["name"] and saved.model.auxiliary.frames == auxiliary["frames"]
    assert saved.model.primary.small_input and saved.model.auxiliary.freeze_bn_stats
    assert list(saved.model.primary.temporal_kernels) == primary["temporal_kernels"]
    assert upgrade_saved_model_keys(config_to_dict(saved)) == config_to_dict(saved)  # today's: unchanged
