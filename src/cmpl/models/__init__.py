"""Video networks built by name: the paper's 3D-ResNets, PySlowFast's Slow-only and SlowFast-R50."""

from cmpl.models.build import build_model, model_names
from cmpl.models.resnet3d import ResNet3d, VideoNet, parse_model_name
from cmpl.models.slowfast import SlowFast

__all__ = ["ResNet3d", "SlowFast", "VideoNet", "build_model", "model_names", "parse_model_name"]
