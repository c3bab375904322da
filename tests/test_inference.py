"""The public API (``cmpl.load`` and what it returns), ``cmpl export`` and ``cmpl predict --timeline`` on a
tiny trained run, and every ```python block of docs/api.md and README.md, run as a user would run them."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest
import torch

import cmpl
from cmpl.cli import main
from cmpl.config import load_config
from cmpl.data.annotations import VideoRecord
from cmpl.engine.trainer import Trainer
from cmpl.errors import UserError
from cmpl.inference import TrainedRun
from tests.helpers import fast_overrides
from tests.test_export import _needs_onnx

ROOT = Path(__file__).resolve().parents[1]
DOCS_WITH_EXAMPLES = [ROOT / "docs" / "api.md", ROOT / "README.md"]


@pytest.fixture(scope="module")
def workdir(tiny_synthetic: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out as after ``cmpl demo``: ``data/synthetic`` and ``runs/demo/cmpl_seed0``."""
    root = tmp_path_factory.mktemp("user")
    (root / "data").mkdir()
    (root / "data" / "synthetic").symlink_to(tiny_synthetic, target_is_directory=True)
    run_dir = root / "runs" / "demo" / "cmpl_seed0"
    Trainer(load_config(None, fast_overrides(root / "data" / "synthetic", run_dir))).fit()
    return root


@pytest.fixture(scope="module")
def run_dir(workdir: Path) -> Path:
    return workdir / "runs" / "demo" / "cmpl_seed0"


@pytest.fixture(scope="module")
def model(run_dir: Path) -> TrainedRun:
    return cmpl.load(run_dir, device="cpu")


@pytest.fixture(scope="module")
def video(workdir: Path) -> Path:
    return workdir / "data" / "synthetic" / "videos" / "move_up" / "test_0000.mp4"


def test_load_takes_a_run_folder_or_a_checkpoint_in_it(model: TrainedRun, run_dir: Path) -> None:
    assert model.classes == (run_dir / "classes.txt").read_text().split()
    assert not model.network.training and model.role == "primary"
    from_file = cmpl.load(run_dir / "checkpoints" / "last.pt", device="cpu")
    assert from_file.run_dir == run_dir
    for a, b in zip(
        model.network.state_dict().values(), from_file.network.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    with pytest.raises(UserError, match=r"nothing_here/config\.yaml: config file not found"):
        cmpl.load(run_dir.parent / "nothing_here")


def test_predict_answers_every_video_and_names_the_unreadable_ones(
    model: TrainedRun, video: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all" * 10)
    answers = model.predict([video, tmp_path / "missing.mp4", broken, str(video)], views="2x1", top_k=3)
    assert [a.video for a in answers] == [video, tmp_path / "missing.mp4", broken, video]
    good, missing, bad, again = answers
    assert good.error is None and len(good.top) == 3 and good.label == good.top[0][0]
    assert good.probs.shape == (len(model.classes),) and good.probs.max().item() == good.top[0][1]
    assert [p for _, p in good.top] == sorted((p for _, p in good.top), reverse=True)
    assert good.top == again.top
    assert "file not found" in missing.error and missing.top == [] and missing.label is None
    assert str(broken) in bad.error
    assert model.predict(video, views=(2, 1))[0].top[0] == good.top[0]  # one path alone is a list of one
    data = dataclasses.replace(model.config.data, num_workers=2)  # decoding in workers: the same answers
    in_workers = dataclasses.replace(model, config=dataclasses.replace(model.config, data=data))
    assert in_workers.predict([video, broken, video], views="2x1", top_k=3) == [good, bad, again]


def test_predict_clips_matches_predict_and_takes_uint8_or_float(model: TrainedRun, video: Path) -> None:
    clips = model.test_clips([VideoRecord(video, -1)], 2, 1)[0]["clips"]  # the views predict uses
    probs = model.predict_clips(clips)
    assert probs.shape == (2, len(model.classes))
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(2))
    top = model.predict([video], views="2x1", top_k=1)[0].top[0]
    assert top[0] == model.classes[int(probs.mean(0).argmax())]
    assert top[1] == pytest.approx(probs.mean(0).max().item(), abs=1e-6)
    torch.testing.assert_close(model.predict_clips(clips.float() / 255), probs)
    with pytest.raises(ValueError, match="N, T, C, H, W"):
        model.predict_clips(clips[0])


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_command_writes_the_network_and_its_contract(
    fmt: str, run_dir: Path, model: TrainedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if fmt == "onnx":
        _needs_onnx()
    out = tmp_path / f"f.{'pt' if fmt == 'torchscript' else 'onnx'}"
    assert main(["export", str(run_dir), "--format", fmt, "--output", str(out)]) in (0, None)
    printed = capsys.readouterr().out.strip()
    assert printed.startswith(f"{out} ({fmt}) and {out.name}.json; largest difference to PyTorch "), printed
    difference = float(printed.rsplit(" ", 1)[1])
    assert difference <= 1e-4
    contract = json.loads(out.with_name(out.name + ".json").read_text())
    spec, e = model.clip_spec, model.config.eval
    assert contract["input"]["shape"] == ["batch", 3, spec.num_frames, e.crop_size, e.crop_size]
    assert (contract["frames"], contract["stride"], contract["crop_size"]) == (
        spec.num_frames,
        spec.stride,
        32,
    )
    assert contract["mean"] == [0.45] * 3 and contract["std"] == [0.225] * 3
    assert contract["class_names"] == model.classes
    assert contract["max_difference_to_pytorch"] == pytest.approx(difference, rel=0.01, abs=1e-12)


def test_export_default_location(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", str(run_dir), "--format", "torchscript", "--no-check"]) in (0, None)
    assert (run_dir / "export" / "primary.pt").is_file() and (
        run_dir / "export" / "primary.pt.json"
    ).is_file()
    assert "largest difference" not in capsys.readouterr().out


def test_predict_timeline_command_writes_windows_segments_and_a_strip(
    run_dir: Path, video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--timeline", "--window-seconds", "1", "--stride-seconds", "0.5"]
    assert main(["predict", str(run_dir), str(video), *args, "--top-k", "2"]) == 0
    out = run_dir / "timelines" / video.stem
    rows = (out / "windows.csv").read_text().splitlines()
    assert rows[0] == "start,end,label1,prob1,label2,prob2" and len(rows) == 1 + 4  # 2.88 s: 4 windows
    saved = json.loads((out / "timeline.json").read_text())
    assert len(saved["windows"]) == 4 and saved["segments"][0]["start"] == 0
    assert saved["segments"][-1]["end"] == pytest.approx(72 / 25)
    assert (out / "segments.csv").read_text().startswith("start,end,label,score,windows")
    assert (out / "timeline.png").stat().st_size > 1000
    assert "4 windows" in capsys.readouterr().out
    elsewhere = out.parent / "elsewhere"
    two = [str(video), str(out / "missing.mp4")]
    assert main(["predict", str(run_dir), *two, *args, "--output", str(elsewhere)]) == 1  # one bad of two
    assert (elsewhere / video.stem / "timeline.png").is_file()
    assert "missing.mp4: file not found" in capsys.readouterr().err


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.MULTILINE | re.DOTALL)


@pytest.mark.parametrize("doc", DOCS_WITH_EXAMPLES, ids=lambda p: p.name)
def test_the_docs_python_examples_run(
    doc: Path, workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each file's blocks run in order in one namespace, in a folder laid out as after ``cmpl demo``."""
    if not doc.is_file():
        pytest.skip(f"{doc.name} is not there")
    blocks = _python_blocks(doc)
    if doc.name == "api.md":
        assert blocks, "docs/api.md shows the API with a runnable example"
    monkeypatch.chdir(workdir)
    namespace: dict = {"__name__": "__docs__"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{doc.name}[python block {i}]", "exec"), namespace)
    printed = capsys.readouterr().out
    if doc.name == "api.md":
        assert "move_up" in printed and "file not found" in printed and os.path.isfile("exported/demo_f.pt")
