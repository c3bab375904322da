import sys

import pytest
import torch

from cmpl.engine.metrics import MetricWriter, RunningMean, pooled_pseudo_label_accuracy
from cmpl.run_files import read_metrics


def test_pseudo_label_accuracy_is_pooled_over_the_window_not_a_mean_of_step_ratios():
    running = RunningMean()
    # batches of 10 unlabeled clips: 1 confident and wrong, then 9 confident and right
    running.add(
        {
            "pl_mask_primary": torch.tensor(0.1),
            "pl_correct_primary": torch.tensor(0.0),
            "pl_accuracy_primary": torch.tensor(0.0),
        }
    )
    running.add(
        {
            "pl_mask_primary": torch.tensor(0.9),
            "pl_correct_primary": torch.tensor(0.9),
            "pl_accuracy_primary": torch.tensor(1.0),
        }
    )
    means = {k: v.item() for k, v in running.pop().items()}
    assert means["pl_accuracy_primary"] == pytest.approx(0.5)  # what a plain mean reports
    assert pooled_pseudo_label_accuracy(means)["pl_accuracy_primary"] == pytest.approx(0.9)  # 9 of 10 right


def test_pooled_accuracy_without_pseudo_labels_is_zero_and_other_keys_pass_through():
    values = {
        "pl_mask_auxiliary": 0.0,
        "pl_correct_auxiliary": 0.0,
        "pl_accuracy_auxiliary": 0.3,
        "loss": 1.5,
    }
    assert pooled_pseudo_label_accuracy(values) == {**values, "pl_accuracy_auxiliary": 0.0}


def test_writer_without_tensorboard_keeps_the_jsonl(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import now raises ImportError
    with pytest.warns(UserWarning, match="metrics.jsonl only"):
        writer = MetricWriter(tmp_path)
    writer.write(1, {"loss": 2.5})
    writer.close()
    assert read_metrics(tmp_path, "train") == [{"step": 1, "split": "train", "loss": 2.5}]
    assert not (tmp_path / "tensorboard").exists()
