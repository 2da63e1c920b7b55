"""How an image layer's axes map onto a video: frame axis, channel, fixed axes.

A :class:`StackLayout` is pure bookkeeping (no napari objects): it turns a
layer's shape plus the user's choices into the keyword arguments of
``VideoSession`` and converts coordinates between the image, the Labels
layer (the image without its channel axis) and the session's frames.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SUPPORTED_KINDS = "uif"  # unsigned, signed integers and floats


def check_dtype(dtype: np.dtype) -> None:
    """``ValueError`` unless SAM 2 can read this pixel type."""
    dtype = np.dtype(dtype)
    if dtype.kind not in SUPPORTED_KINDS:
        raise ValueError(f"unsupported pixel type {dtype}; use integer or floating-point images")


@dataclass(frozen=True)
class StackLayout:
    """The axes of one image layer as seen by a ``VideoSession``.

    Axis numbers are those of the image layer's data. ``frame_axis`` is None
    for a single 2D image (one frame). ``fixed`` pins every other
    non-spatial axis (for example z while tracking through t).
    """

    shape: tuple[int, ...]
    rgb: bool = False
    channel_axis: int | None = None
    frame_axis: int | None = None
    fixed: tuple[tuple[int, int], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if len(self.spatial_shape) != 2 or len(self.shape) - self.rgb < 2:
            raise ValueError(
                f"an image needs at least 2 spatial dimensions, got shape {self.shape}"
            )
        if self.channel_axis is not None and self.channel_axis not in self.nonspatial_axes(True):
            raise ValueError(f"channel axis {self.channel_axis} is not a non-spatial axis")
        if self.frame_axis is not None and self.frame_axis not in self.nonspatial_axes():
            raise ValueError(f"frame axis {self.frame_axis} is not a non-spatial axis")

    @property
    def _ndim(self) -> int:
        """Dimensions without the trailing RGB(A) axis."""
        return len(self.shape) - int(self.rgb)

    @property
    def spatial_shape(self) -> tuple[int, int]:
        return tuple(self.shape[self._ndim - 2 : self._ndim])

    def nonspatial_axes(self, include_channel: bool = False) -> list[int]:
        """Axes that are neither Y, X, RGB nor (unless asked) the channel axis."""
        return [a for a in range(self._ndim - 2) if include_channel or a != self.channel_axis]

    @property
    def labels_shape(self) -> tuple[int, ...]:
        """Shape of the output Labels layer: the image without channels."""
        return tuple(n for a, n in enumerate(self.shape[: self._ndim]) if a != self.channel_axis)

    def to_labels_axis(self, axis: int) -> int:
        """An image axis number as a Labels axis number."""
        if self.channel_axis is not None and axis > self.channel_axis:
            return axis - 1
        return axis

    @property
    def num_frames(self) -> int:
        return 1 if self.frame_axis is None else self.shape[self.frame_axis]

    def with_position(self, step: tuple[int, ...], frame_axis: int | None) -> StackLayout:
        """A layout tracking ``frame_axis`` with the other axes pinned at ``step``.

        ``step`` is the viewer's current position in Labels axes (trailing
        alignment, as napari does for layers of different dimensionality).
        """
        if frame_axis is None and self.nonspatial_axes():
            raise ValueError("choose a frame axis (z or t) for a stack")
        step = tuple(step)[-len(self.labels_shape) :] if step else ()
        step = (0,) * (len(self.labels_shape) - len(step)) + step
        fixed = tuple(
            (a, int(np.clip(step[self.to_labels_axis(a)], 0, self.shape[a] - 1)))
            for a in self.nonspatial_axes()
            if a != frame_axis
        )
        return StackLayout(self.shape, self.rgb, self.channel_axis, frame_axis, fixed)

    def labels_index(self, frame: int) -> tuple[int, ...]:
        """Where frame ``frame`` lies in the Labels array (ints, then the 2D plane)."""
        fixed = dict(self.fixed)
        index = []
        for a in range(self._ndim - 2):
            if a == self.channel_axis:
                continue
            index.append(frame if a == self.frame_axis else fixed.get(a, 0))
        return tuple(index)

    def frame_of(self, labels_coord: np.ndarray) -> int | None:
        """The frame a point (Labels data coordinates) lies on, or None if it is
        off the tracked plane (another z while tracking t, say)."""
        coord = np.round(np.asarray(labels_coord, dtype=float)[:-2]).astype(int)
        fixed = dict(self.fixed)
        for a in self.nonspatial_axes():
            la = self.to_labels_axis(a)
            if a in fixed and coord[la] != fixed[a]:
                return None
        if self.frame_axis is None:
            return 0
        return int(coord[self.to_labels_axis(self.frame_axis)])

    def session_kwargs(self, channel: int | None) -> dict:
        """Keyword arguments for ``VideoSession`` (besides model and frames).

        A single 2D image needs none of them: the engine treats it as a
        one-frame video.
        """
        kwargs: dict = {"rgb": self.rgb}
        if self.frame_axis is not None:
            kwargs["frame_axis"] = self.frame_axis
        if self.fixed:
            kwargs["fixed"] = dict(self.fixed)
        if self.channel_axis is not None:
            kwargs["channel_axis"] = self.channel_axis
            kwargs["channel"] = channel or 0
        elif self.rgb:
            kwargs["channel"] = channel
        return kwargs
