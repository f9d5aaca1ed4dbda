"""Taking a fitted network out of sirenkit: ONNX files (`sirenkit export`) and what their inputs mean.

`export_onnx` writes the network of a run as an ONNX graph `coords (N, d) -> values (N, m)` with a JSON
sidecar; `coordinate_convention` states, per task, what the coordinates and the outputs mean;
`load_coordinate_network` loads a run's network and refuses runs whose network is not a coordinate MLP.
"""

from .conventions import coordinate_convention
from .network import load_coordinate_network
from .onnx_export import DEFAULT_OPSET, MAX_OPSET, MIN_OPSET, export_onnx

__all__ = [
    "DEFAULT_OPSET",
    "MAX_OPSET",
    "MIN_OPSET",
    "coordinate_convention",
    "export_onnx",
    "load_coordinate_network",
]
