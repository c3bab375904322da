"""Config loading: defaults, YAML, overrides, and one clear line for every bad key or value."""

from __future__ import annotations

import pytest
import yaml

from cmpl.config import Config, ConfigError, config_to_dict, load_config, save_config


def test_defaults_follow_the_paper():
    c = load_config()
    assert (c.method.name, c.method.threshold, c.method.unlabeled_weight, c.method.unlabeled_ratio) == (
        "cmpl",
        0.9,
        5.0,
        5,
    )
    assert (c.model.primary, c.model.auxiliary) == ("r50", "r50_w0.25")
    assert (
        c.model.primary_frames,
        c.model.primary_stride,
        c.model.auxiliary_frames,
        c.model.auxiliary_stride,
    ) == (8, 8, 16, 4)
    assert (c.optim.momentum, c.optim.weight_decay) == (0.9, 1e-4)
    assert (c.eval.num_clips, c.eval.num_crops) == (10, 3)
    assert c.train.labeled_batch == 2


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("method:\n  threshold: 0.8\ndata:\n  short_side_range: [300, 340]\n")
    c = load_config(path, ["method.threshold=0.95", "optim.base_lr=5e-2", "model.temporal_kernels=[3,3,3,3]"])
    assert c.method.threshold == 0.95
    assert c.optim.base_lr == 0.05
    assert c.data.short_side_range == (300, 340)
    assert c.model.temporal_kernels == (3, 3, 3, 3)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("method.treshold=0.5", "method.treshold: unknown key"),
        ("methods.name=cmpl", "methods: unknown key"),
        ("method.threshold=1.5", "method.threshold: must be in [0, 1], got 1.5"),
        ("data.format=youtube", "data.format: must be one of"),
        ("train.labeled_batch=two", "train.labeled_batch: expected an integer"),
        ("train.amp=maybe", "train.amp: expected true or false"),
        ("data.short_side_range=[300]", "data.short_side_range: expected a list of 2 values"),
        ("schedule.warmup_iterations=5000", "schedule.warmup_iterations: must be below"),
        ("data.crop_size=400", "data.short_side_range: 256 is smaller than data.crop_size"),
        ("threshold", "overrides look like"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError) as info:
        load_config(None, [override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


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
