"""Declared pre- and post-processing, compiled at build time into one graph around the model.

`spec` (the manifest's steps) imports nothing heavy; `compile` needs the `onnx` package.
"""

from __future__ import annotations
