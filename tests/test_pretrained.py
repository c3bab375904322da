"""``init_from`` by numerical equivalence: each source implementation with seeded random weights, saved in its
own format, loaded into cmpl's network; in eval mode the logits agree (pooled features where the classifier
was replaced). Real weights are never downloaded. Then ``cmpl models``, the fine-tuning knobs, and the one
line of every bad input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models import video

from cmpl.config import load_config
from cmpl.engine.optim import build_optimizer
from cmpl.errors import MissingFileError, UserError
from cmpl.models import build_model
from cmpl.models.weights import WeightsError, load_pretrained, match_weights
from tests.helpers import random_state

FIXTURES = Path(__file__).parent / "fixtures"


def _empty(name: str, num_classes: int) -> nn.Module:
    """cmpl's network without spending time on a random initialisation that init_from overwrites."""
    with torch.device("meta"):
        net = build_model(name, num_classes)
    return net.to_empty(device="cpu").eval()


def _close(ours: torch.Tensor, reference: torch.Tensor) -> None:
    scale = max(1.0, reference.abs().max().item())
    assert (ours - reference).abs().max().item() <= 1e-5 * scale


def _randomize_batchnorm(net: nn.Module) -> nn.Module:
    """Random BatchNorm statistics and affine parameters, so that loading them is tested too."""
    g = torch.Generator().manual_seed(3)
    for m in net.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) * 0.5 + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    return net


# ------------------------------------------------------------------------------ (a) torchvision
@pytest.mark.parametrize("name", ["r3d_18", "s3d"])
def test_torchvision_state_dict_gives_torchvisions_logits(tmp_path, name):
    torch.manual_seed(0)
    reference = _randomize_batchnorm(getattr(video, name)(weights=None, num_classes=400)).eval()
    torch.save(reference.state_dict(), tmp_path / f"{name}.pth")
    ours = _empty(name, 400)
    report = load_pretrained(ours, str(tmp_path / f"{name}.pth"), name)
    assert report.format == "torchvision" and "head.weight" in report.loaded and not report.skipped
    if name == "s3d":  # its fixed 2x7x7 pool needs 16 x 224 x 224 clips; global pooling is what it is there
        reference.avgpool = ours.net.avgpool = nn.AdaptiveAvgPool3d(1)
    x = torch.randn(2, 3, 4 if name == "r3d_18" else 8, 32, 32)
    with torch.no_grad():
        _close(ours(x), reference(x))


@pytest.mark.parametrize(
    "name", ["mc3_18", "r2plus1d_18", "mvit_v1_b", "mvit_v2_s", "swin3d_t", "swin3d_s", "swin3d_b"]
)
def test_other_torchvision_networks_take_every_tensor_on_the_meta_device(name):
    """Shapes only (no memory, no compute): every tensor has its place, the 400-way classifier is skipped for
    a 10-class run."""
    with torch.device("meta"):
        reference = getattr(video, name)(weights=None)
        ours = build_model(name, 10)
    _, report = match_weights(reference.state_dict(), "torchvision", ours, name)
    assert set(report.skipped) == {"head.weight", "head.bias"}
    assert len(report.loaded) == len(ours.state_dict()) - 2 == len(reference.state_dict()) - 2
    assert "400 classes in the checkpoint, 10 here" in report.line("primary")


def test_swapped_classifier_keeps_the_pooled_features(tmp_path):
    torch.manual_seed(0)
    reference = _randomize_batchnorm(video.r3d_18(weights=None)).eval()
    torch.save(reference.state_dict(), tmp_path / "r3d.pth")
    ours = build_model("r3d_18", 7).eval()
    report = load_pretrained(ours, str(tmp_path / "r3d.pth"), "r3d_18", role="auxiliary")
    assert report.line("auxiliary").startswith("model.auxiliary.init_from: ")
    assert "head.weight, head.bias (400 classes in the checkpoint, 7 here: a new classifier)" in report.line()
    assert "\n" not in report.line()
    x = torch.randn(2, 3, 4, 32, 32)
    reference.fc = nn.Identity()
    with torch.no_grad():
        _close(ours.features(x), reference(x))


def test_torchvision_weights_name_reads_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(MissingFileError) as info:
        load_pretrained(build_model("r3d_18", 5), "torchvision:R3D_18_Weights.KINETICS400_V1", "r3d_18")
    expected = (
        f"torchvision:R3D_18_Weights.KINETICS400_V1: r3d_18-b3b3357e.pth is not in torch's hub cache; "
        f"download https://download.pytorch.org/models/r3d_18-b3b3357e.pth to "
        f"{tmp_path}/checkpoints/r3d_18-b3b3357e.pth (cmpl never downloads)"
    )
    assert str(info.value) == expected
    (tmp_path / "checkpoints").mkdir()
    torch.manual_seed(0)
    reference = video.r3d_18(weights=None).eval()
    torch.save(reference.state_dict(), tmp_path / "checkpoints" / "r3d_18-b3b3357e.pth")
    ours = _empty("r3d_18", 400)
    assert (
        load_pretrained(ours, "torchvision:R3D_18_Weights.KINETICS400_V1", "r3d_18").format == "torchvision"
    )
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        _close(ours(x), reference(x))
    with pytest.raises(WeightsError, match=r"weights of torchvision's r3d_18, not of r2plus1d_18$"):
        load_pretrained(
            build_model("r2plus1d_18", 5), "torchvision:R3D_18_Weights.KINETICS400_V1", "r2plus1d_18"
        )


# ------------------------------------------------------------------------------ (b) PyTorchVideo, PySlowFast
FIXTURE = json.loads((FIXTURES / "pytorchvideo_logits.json").read_text())


def _pyslowfast_key(key: str) -> str:
    """PyTorchVideo's key -> PySlowFast's (slowfast/models/video_model_builder.py, resnet_helper.py,
    stem_helper.py, head_helper.py): stages s1-s5 with pathwayP_stem / pathwayP_resB, sK_fuse, head."""
    parts = key.split(".")
    if parts[0] == "blocks" and parts[2] == "proj":
        return "head.projection." + parts[3]
    stage = int(parts[1]) + 1
    rest = parts[2:]
    if rest[0] == "multipathway_fusion":
        return f"s{stage}_fuse.{ {'conv_fast_to_slow': 'conv_f2s', 'norm': 'bn'}[rest[1]] }.{rest[2]}"
    pathway = 0
    if rest[0] == "multipathway_blocks":
        pathway, rest = int(rest[1]), rest[2:]
    if rest[0] in ("conv", "norm"):
        return f"s{stage}.pathway{pathway}_stem.{ {'conv': 'conv', 'norm': 'bn'}[rest[0]] }.{rest[1]}"
    block, module = int(rest[1]), rest[2:]
    names = {"branch1_conv": "branch1", "branch1_norm": "branch1_bn"}
    names |= {f"conv_{x}": x for x in "abc"} | {f"norm_{x}": f"{x}_bn" for x in "abc"}
    if module[0] == "branch2":
        return f"s{stage}.pathway{pathway}_res{block}.branch2.{names[module[1]]}.{module[2]}"
    return f"s{stage}.pathway{pathway}_res{block}.{names[module[0]]}.{module[1]}"


@pytest.mark.parametrize("name", ["slow_r50", "slowfast_r50"])
def test_pytorchvideo_and_pyslowfast_checkpoints_give_pytorchvideos_logits(tmp_path, name):
    """The reference logits were computed by PyTorchVideo's own ``slow_r50`` / ``slowfast_r50`` on these
    seeded weights (tests/fixtures/make_pytorchvideo_logits.py); PySlowFast's checkpoint is the same weights
    under PySlowFast's names (and without BatchNorm's batch counters)."""
    fixture = FIXTURE[name]
    state = random_state(fixture["manifest"], seed=0)
    pyslowfast = {_pyslowfast_key(k): v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    clip = torch.randn(fixture["clip"], generator=torch.Generator().manual_seed(1))
    for source, weights in (("pytorchvideo", state), ("pyslowfast", pyslowfast)):
        path = tmp_path / f"{source}.pyth"
        torch.save({"model_state": weights, "epoch": 196}, path)
        ours = _empty(name, 400)
        report = load_pretrained(ours, str(path), name)
        assert report.format == source and "head.weight" in report.loaded
        with torch.no_grad():
            _close(ours(clip)[0], torch.tensor(fixture["logits"]))


# ------------------------------------------------------------------------------ (c) ImageNet inflation
@pytest.fixture(scope="module")
def imagenet_resnet50(tmp_path_factory) -> tuple[nn.Module, Path]:
    """torchvision's 2D ResNet-50 with seeded random weights, and its state dict's file."""
    torch.manual_seed(0)
    resnet = _randomize_batchnorm(torchvision.models.resnet50(weights=None)).eval()
    path = tmp_path_factory.mktemp("imagenet") / "resnet50.pth"
    torch.save(resnet.state_dict(), path)
    resnet.fc = nn.Identity()
    return resnet, path


@pytest.mark.parametrize(("name", "frames"), [("r50", 37), ("slow_r50", 19)])  # 2 x the temporal radius + 1
def test_imagenet_resnet50_inflates_to_the_2d_networks_features_on_a_still_clip(
    imagenet_resnet50, name, frames
):
    """A kernel of temporal size t gets the 2D weights / t, so on identical frames every frame whose temporal
    receptive field stays inside the clip (the middle one: zero padding at the ends) has the 2D features."""
    resnet, path = imagenet_resnet50
    ours = _empty(name, 1000)
    report = load_pretrained(ours, str(path), name)
    assert report.format == "imagenet2d" and len(report.loaded) == len(ours.state_dict())
    image = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        maps = ours.stages(ours.stem(image.unsqueeze(2).expand(-1, -1, frames, -1, -1)))
        middle = maps[:, :, frames // 2].mean(dim=(-2, -1))
        _close(middle, resnet(image))
    assert ours.stem[0][0].weight.shape[2] == (5 if name == "r50" else 1)


# ------------------------------------------------------------------------------ (d) cmpl runs
def test_cmpl_run_folder_gives_either_networks_weights(tmp_path):
    torch.manual_seed(0)
    primary, auxiliary = build_model("r10_w0.125", 5).eval(), build_model("r10_w0.25", 5).eval()
    method = {f"networks.primary.{k}": v for k, v in primary.state_dict().items()}
    method |= {f"networks.auxiliary.{k}": v for k, v in auxiliary.state_dict().items()}
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    torch.save({"method": method, "config": {}, "iteration": 3}, tmp_path / "run" / "checkpoints" / "last.pt")
    x = torch.randn(2, 3, 4, 32, 32)
    for source, name, net in [
        (f"{tmp_path}/run", "r10_w0.125", primary),
        (f"{tmp_path}/run#auxiliary", "r10_w0.25", auxiliary),
        (f"{tmp_path}/run/checkpoints/last.pt#primary", "r10_w0.125", primary),
    ]:
        ours = build_model(name, 5).eval()
        assert load_pretrained(ours, source, name).format == "cmpl"
        with torch.no_grad():
            _close(ours(x), net(x))
    torch.save(primary.state_dict(), tmp_path / "net.pt")  # a network's own state dict
    ours = build_model("r10_w0.125", 3).eval()
    report = load_pretrained(ours, str(tmp_path / "net.pt"), "r10_w0.125")
    assert report.format == "cmpl" and set(report.skipped) == {"head.weight", "head.bias"}
    with torch.no_grad():
        _close(ours.features(x), primary.features(x))


# ------------------------------------------------------------------------------ bad inputs: one line each
def _bad(tmp_path, what: str) -> tuple[str, str]:
    """(init_from, the network's name) for each bad input."""
    if what == "shape":
        torch.save(build_model("r10_w0.25", 5).state_dict(), tmp_path / "w.pt")
        return str(tmp_path / "w.pt"), "r10_w0.125"
    if what == "missing":
        return str(tmp_path / "nope.pt"), "r3d_18"
    if what == "format":
        torch.save({"encoder.weight": torch.zeros(2)}, tmp_path / "w.pt")
        return str(tmp_path / "w.pt"), "r3d_18"
    if what == "pickle":
        torch.save({"model": nn.Linear(2, 2)}, tmp_path / "w.pt")
        return str(tmp_path / "w.pt"), "r3d_18"
    if what == "wrong_network":
        torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "w.pt")
        return str(tmp_path / "w.pt"), "r3d_18"
    if what == "extra":
        state = video.r3d_18(weights=None).state_dict()
        state["layer5.weight"] = torch.zeros(1)
        torch.save(state, tmp_path / "w.pt")
        return str(tmp_path / "w.pt"), "r3d_18"
    if what == "lacking":
        state = video.r3d_18(weights=None).state_dict()
        del state["layer4.1.conv2.0.weight"]
        torch.save(state, tmp_path / "w.pt")
        return str(tmp_path / "w.pt"), "r3d_18"
    if what == "not_a_run":
        return str(tmp_path), "r3d_18"
    if what == "pick":
        torch.save(video.r3d_18(weights=None).state_dict(), tmp_path / "w.pt")
        return f"{tmp_path / 'w.pt'}#aux", "r3d_18"
    if what == "no_role":
        state = {f"networks.primary.{k}": v for k, v in build_model("r10_w0.125", 5).state_dict().items()}
        torch.save({"method": state, "config": {}}, tmp_path / "w.pt")
        return f"{tmp_path / 'w.pt'}#auxiliary", "r10_w0.125"
    if what == "unreadable":
        (tmp_path / "w.pt").write_bytes(b"not a checkpoint")
        return str(tmp_path / "w.pt"), "r3d_18"
    if what == "weights_name":
        return "torchvision:R3D_18_Weights.KINETICS9000", "r3d_18"
    raise AssertionError(what)


BAD = {
    "shape": "{p}: stem.0.0.weight: shape (16, 3, 5, 7, 7) in the checkpoint, (8, 3, 5, 7, 7) in r10_w0.125",
    "missing": "{p}: no such file",
    "format": "{p}: unknown checkpoint format (keys such as encoder.weight); init_from reads torchvision, "
    "pytorchvideo, pyslowfast, imagenet2d, cmpl (docs/pretrained.md)",
    "pickle": "{p}: refused: the pickle holds more than tensors (it names torch.nn.modules.linear.Linear); save "
    "a state dict of tensors",
    "wrong_network": "{p}: imagenet2d weights; r3d_18 loads torchvision, cmpl (docs/pretrained.md)",
    "extra": "{p}: layer5.weight has no place in r3d_18 (torchvision weights)",
    "lacking": "{p}: the checkpoint lacks 1 of r3d_18's tensors, e.g. net.layer4.1.conv2.0.weight",
    "not_a_run": "{p}: a folder, but not a cmpl run with checkpoints/last.pt",
    "pick": "{p}: #aux: pick #primary or #auxiliary",
    "no_role": "{p}: this cmpl run has no auxiliary network (pick #primary)",
    "unreadable": "{p}: not a readable checkpoint (not a file torch.save wrote)",
    "weights_name": "torchvision:R3D_18_Weights.KINETICS9000: not a torchvision weights name (e.g. "
    "R3D_18_Weights.KINETICS400_V1)",
}


@pytest.mark.parametrize("what", sorted(BAD))
def test_every_bad_input_stops_with_one_line(tmp_path, what):
    source, name = _bad(tmp_path, what)
    with pytest.raises(UserError) as info:
        load_pretrained(build_model(name, 5), source, name)
    assert str(info.value) == BAD[what].format(p=source)


# ------------------------------------------------------------------------------ cmpl models
def test_models_table_lists_parameters_gmacs_and_formats():
    from cmpl.commands import models

    rows = {r.name: r for r in models.model_table(["r50", "r3d_18", "slow_r50"])}
    assert rows["r50"].params_m == pytest.approx(33.02, abs=0.01) and rows["r50"].gmacs == pytest.approx(
        51.5, abs=0.1
    )
    assert (rows["r3d_18"].frames, rows["r3d_18"].crop_size) == (16, 112)
    assert rows["r3d_18"].gmacs == pytest.approx(40.7, abs=0.1)  # torchvision's documented 40.70
    assert rows["slow_r50"].formats == ("pytorchvideo", "pyslowfast", "imagenet2d", "cmpl")
    assert models.COMMAND == "models" and models.HELP and models.__doc__


def test_models_command_prints_every_name(capsys):
    from cmpl.commands import models
    from cmpl.models import model_names

    parser = argparse.ArgumentParser()
    models.add_arguments(parser)
    assert models.run(parser.parse_args(["r10_w0.125", "mc3_18"])) is None
    out = capsys.readouterr().out
    assert "r10_w0.125" in out and "mc3_18" in out and "torchvision, cmpl" in out
    for expected in (
        "r3d_18",
        "mc3_18",
        "r2plus1d_18",
        "s3d",
        "mvit_v1_b",
        "mvit_v2_s",
        "swin3d_t",
        "swin3d_s",
        "swin3d_b",
        "slow_r50",
        "slowfast_r50",
        "r50",
        "r50_w0.25",
    ):
        assert expected in model_names()


# ------------------------------------------------------------------------------ fine-tuning knobs
def test_pretrained_parameters_learn_at_the_scaled_rate():
    config = load_config(None, ["optim.pretrained_lr_scale=0.1", "model.primary.name=r10_w0.125"])
    net = build_model("r10_w0.125", 5)
    loaded = [n for n, _ in net.named_parameters() if not n.startswith("head.")]
    groups = build_optimizer(net, config, world_size=1, pretrained=loaded).param_groups
    base = config.optim.base_lr * config.train.labeled_batch / config.optim.reference_labeled_batch
    assert [g["lr"] / base for g in groups] == pytest.approx([1, 1, 0.1, 0.1])
    assert [len(g["params"]) for g in groups[:2]] == [1, 1]  # the new classifier's weight and bias
    assert len(build_optimizer(net, config, world_size=1).param_groups) == 2  # no init_from: as before


def test_freeze_bn_stats_keeps_the_loaded_statistics(tmp_path):
    torch.manual_seed(0)
    reference = _randomize_batchnorm(video.r3d_18(weights=None))
    torch.save(reference.state_dict(), tmp_path / "r3d.pth")
    ours = build_model("r3d_18", 5, freeze_bn_stats=True)
    load_pretrained(ours, str(tmp_path / "r3d.pth"), "r3d_18")
    before = ours.net.stem[1].running_mean.clone()
    ours.train()(torch.randn(2, 3, 4, 32, 32))
    assert torch.equal(ours.net.stem[1].running_mean, before) and ours.head.training


# ------------------------------------------------------------------------------ in a run
def test_missing_init_from_stops_before_the_split_is_drawn(tmp_path, capsys):
    from cmpl import cli

    run_dir = tmp_path / "run"
    missing = tmp_path / "nope.pt"
    status = cli.main(["train", "demo", f"model.primary.init_from={missing}", f"train.output_dir={run_dir}"])
    assert status != 0 and not (run_dir / "labeled.txt").exists()
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {missing}: no such file"]


@pytest.mark.slow
def test_a_run_starts_from_init_from_and_resumes_bit_exactly(tiny_synthetic, tmp_path, capsys):
    """F starts from a checkpoint (its 5-way classifier dropped for the 12 classes), learns at a tenth of the
    rate with frozen BatchNorm statistics; resumed from its iteration-2 checkpoint it ends where it ended."""
    import shutil

    from cmpl.engine.checkpoint import load_checkpoint
    from cmpl.engine.trainer import Trainer
    from tests.helpers import fast_overrides

    torch.manual_seed(0)
    source = build_model("r10_w0.125", 5)
    torch.save(source.state_dict(), tmp_path / "f.pt")
    knobs = [
        f"model.primary.init_from={tmp_path / 'f.pt'}",
        "optim.pretrained_lr_scale=0.1",
        "model.primary.freeze_bn_stats=true",
        "train.keep_checkpoints=2",
    ]

    def trainer(run: str, resume: bool = False) -> Trainer:
        overrides = fast_overrides(tiny_synthetic, tmp_path / run, iterations=4)
        return Trainer(load_config(None, [*overrides, *knobs]), resume=resume)

    straight = trainer("straight")
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line == (
        f"model.primary.init_from: 72 tensors loaded from {tmp_path / 'f.pt'} (cmpl); skipped 2: head.weight, "
        "head.bias (5 classes in the checkpoint, 12 here: a new classifier)"
    )
    primary = straight.method.networks["primary"]
    assert torch.equal(primary.stem[0][0].weight.cpu(), source.stem[0][0].weight)
    lrs = [g["lr"] for g in straight.optimizer.param_groups]
    assert len(lrs) == 4 and lrs[2] == pytest.approx(0.1 * lrs[0]) and lrs[3] == pytest.approx(0.1 * lrs[1])
    running_mean = primary.stem[0][1].running_mean.clone()
    straight.fit()
    assert torch.equal(primary.stem[0][1].running_mean, running_mean)  # frozen statistics

    shutil.copytree(tmp_path / "straight", tmp_path / "resumed")
    checkpoints = tmp_path / "resumed" / "checkpoints"
    (checkpoints / "last.pt").unlink()
    shutil.copy(checkpoints / "iter_00000002.pt", checkpoints / "last.pt")
    (tmp_path / "f.pt").unlink()  # a resumed run reads its checkpoint, not init_from
    resumed = trainer("resumed", resume=True)
    assert resumed.progress.iteration == 2 and resumed.pretrained == straight.pretrained
    resumed.fit()
    final = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")["method"]
    again = load_checkpoint(checkpoints / "last.pt")["method"]
    assert all(torch.equal(final[k], again[k]) for k in final)


def test_each_network_gets_its_own_input_normalisation():
    from cmpl.engine.runtime import input_normalizer

    config = load_config(None, ["model.primary.name=r3d_18"])
    clips = torch.full((1, 2, 3, 4, 4), 255, dtype=torch.uint8)  # (B, T, C, H, W)
    primary, auxiliary = (
        input_normalizer(config, "primary")(clips),
        input_normalizer(config, "auxiliary")(clips),
    )
    assert primary[0, 0, 0, 0, 0].item() == pytest.approx((1 - 0.43216) / 0.22803)  # torchvision's Kinetics
    assert auxiliary[0, 0, 0, 0, 0].item() == pytest.approx(
        (1 - 0.45) / 0.225
    )  # the 3D-ResNets' (PySlowFast)
