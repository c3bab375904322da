"""FixMatch extended to video (paper Eq. 1): the primary network labels its own strong views."""

from __future__ import annotations

import torch.nn.functional as F

from cmpl.methods.base import LabeledBatch, Method, StepOutput, UnlabeledBatch, predict_views, register
from cmpl.methods.losses import confident_targets, masked_cross_entropy, pseudo_label_stats


@register("fixmatch")
class FixMatch(Method):
    def training_step(self, labeled: LabeledBatch, unlabeled: UnlabeledBatch | None) -> StepOutput:
        if unlabeled is None:
            return self.supervised_step(labeled)
        logits_l, logits_s, probs_w = predict_views(
            self.primary,
            labeled.views["primary"],
            unlabeled.weak["primary"],
            unlabeled.strong["primary"],
            self.config.batchnorm_groups,
        )
        targets, mask = confident_targets(probs_w, self.config.threshold)
        loss_s = F.cross_entropy(logits_l, labeled.labels)
        loss_u = masked_cross_entropy(logits_s, targets, mask)
        logs = {"loss_sup_primary": loss_s.detach(), "loss_unsup_primary": loss_u.detach()}
        stats = pseudo_label_stats(targets, mask, unlabeled.labels)
        logs.update({f"pl_{k}_primary": v for k, v in stats.items()})
        return StepOutput(loss_s + self.config.unlabeled_weight * loss_u, logs)
