"""The supervised baseline: the primary network on the labeled clips alone (paper Sec. 4.1, "Baselines")."""

from __future__ import annotations

from cmpl.methods.base import LabeledBatch, Method, StepOutput, UnlabeledBatch, register


@register("supervised")
class Supervised(Method):
    uses_unlabeled = False

    def training_step(self, labeled: LabeledBatch, unlabeled: UnlabeledBatch | None) -> StepOutput:
        return self.supervised_step(labeled)
