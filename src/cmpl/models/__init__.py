"""Networks: one configurable 3D-ResNet, built by name."""

from cmpl.models.resnet3d import ResNet3d, build_model, model_names, parse_model_name

__all__ = ["ResNet3d", "build_model", "model_names", "parse_model_name"]
