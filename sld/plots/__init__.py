"""Plots people read: each output against the scale input per group, laws extrapolated past the data.

:func:`scale_picture` computes the picture as plain data (points, curves, a
caption); :func:`extrapolation_figure` paints it with matplotlib for the report's
``extrapolation.png``, and the TUI paints the same data as text.
"""

from sld.plots._figure import extrapolation_figure as extrapolation_figure
from sld.plots._figure import group_colours as group_colours
from sld.plots._figure import write_extrapolation as write_extrapolation
from sld.plots._picture import EXTEND as EXTEND
from sld.plots._picture import HELDOUT as HELDOUT
from sld.plots._picture import TRAIN as TRAIN
from sld.plots._picture import VALIDATION as VALIDATION
from sld.plots._picture import Curve as Curve
from sld.plots._picture import Points as Points
from sld.plots._picture import ScalePicture as ScalePicture
from sld.plots._picture import scale_input as scale_input
from sld.plots._picture import scale_picture as scale_picture

__all__ = [
    "EXTEND",
    "HELDOUT",
    "TRAIN",
    "VALIDATION",
    "Curve",
    "Points",
    "ScalePicture",
    "extrapolation_figure",
    "group_colours",
    "scale_input",
    "scale_picture",
    "write_extrapolation",
]
