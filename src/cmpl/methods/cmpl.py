"""Cross-Model Pseudo-Labeling (paper Sec. 3.2, Eq. 2-6).

The primary network F and the auxiliary network A both learn from the labeled clips; on an unlabeled clip
each predicts on its weak view, and a confident arg-max becomes the label that the *other* network must
predict on its strong view. Both networks see the video at their own frame rate and temporal location.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cmpl.methods.base import LabeledBatch, Method, StepOutput, UnlabeledBatch, predict_views, register
from cmpl.methods.losses import confident_targets, masked_cross_entropy, pseudo_label_stats, select_teachers


@register("cmpl")
class CMPL(Method):
    roles = ("primary", "auxiliary")

    def teachers(self, probs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """By ``method.pseudo_labels``: cross (each network labels the other's clips) or Appendix A's schemes."""
        cfg = self.config
        chosen = select_teachers(probs["primary"], probs["auxiliary"], cfg.pseudo_labels, cfg.threshold)
        return dict(zip(self.roles, chosen, strict=True))

    def training_step(self, labeled: LabeledBatch, unlabeled: UnlabeledBatch | None) -> StepOutput:
        cfg = self.config
        if unlabeled is None:
            return self.supervised_step(labeled, self.roles if cfg.auxiliary_supervised else ("primary",))
        outputs = {
            role: predict_views(
                self.networks[role],
                labeled.views[role],
                unlabeled.weak[role],
                unlabeled.strong[role],
                cfg.batchnorm_groups,
            )
            for role in self.roles
        }
        teachers = self.teachers({role: outputs[role][2] for role in self.roles})
        losses: dict[str, torch.Tensor] = {}
        logs: dict[str, torch.Tensor] = {}
        for role in self.roles:
            logits_l, logits_s, probs_w = outputs[role]
            targets, mask = confident_targets(teachers[role], cfg.threshold)
            losses[f"sup_{role}"] = F.cross_entropy(logits_l, labeled.labels)
            losses[f"unsup_{role}"] = masked_cross_entropy(logits_s, targets, mask)
            stats = pseudo_label_stats(targets, mask, unlabeled.labels, student_probs=probs_w)
            logs.update({f"pl_{k}_{role}": v for k, v in stats.items()})
        supervised = losses["sup_primary"] + (losses["sup_auxiliary"] if cfg.auxiliary_supervised else 0)
        unsupervised = losses["unsup_primary"] + (
            losses["unsup_auxiliary"] if cfg.auxiliary_unsupervised else 0
        )
        logs.update({f"loss_{k}": v.detach() for k, v in losses.items()})
        return StepOutput(supervised + cfg.unlabeled_weight * unsupervised, logs)
