"""Lazy frame sources: one 2-D frame at a time out of a big stack.

A :class:`FrameSource` is a video seen by the engine: ``num_frames`` frames of
``frame_shape`` (H, W), each read on demand as ``(H, W)`` grey or
``(H, W, 3)`` RGB in the data's own dtype. Nothing is copied or resized up
front, so a 50 GB TIFF or zarr stack costs only the frames actually read.

Axis rules used by :func:`open_frames` (axes are those of the original data):

* the channel axis is ``channel_axis`` if given; else, with ``rgb=True``, the
  last axis; else, with ``rgb=None``, the last axis when it has size 3 or 4
  and the two axes before it are both longer than 30 (napari's own RGB
  guess, so ``(T, H, 3)`` is *not* RGB but ``(512, 512, 3)`` is);
* the last two non-channel axes are Y and X;
* ``frame_axis`` (negative allowed) is the video axis; data with only Y and X
  is a one-frame video and ``frame_axis`` is ignored;
* every other axis is held at ``fixed[axis]``, **default index 0**;
* with a channel axis, ``channel`` picks one channel (grey frames); without
  ``channel`` a channel axis of size 3 or 4 gives RGB frames (alpha dropped).
"""

from __future__ import annotations

import operator
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "FrameIndexError",
    "FrameSource",
    "MissingFileError",
    "UnreadableFileError",
    "open_frames",
]

RGB_MIN_SIDE = 30  # napari's guess_rgb threshold


class MissingFileError(FileNotFoundError, ValueError):
    """A path given as frame data does not exist (both an OSError and a ValueError)."""


class UnreadableFileError(ValueError):
    """A frame file that exists but cannot be read as an image stack."""


class FrameIndexError(IndexError, ValueError):
    """A frame index out of range: an IndexError for iteration, a ValueError for users."""


class FrameSource:
    """A stack read lazily as a sequence of 2-D frames.

    ``data`` is any array-like with ``shape``, ``dtype`` and numpy-style
    basic indexing (numpy array or memmap, dask array, zarr array, ...).
    Build one with :func:`open_frames`, which validates the axes.
    """

    def __init__(
        self,
        data: Any,
        *,
        frame_axis: int | None,
        y_axis: int,
        x_axis: int,
        channel_axis: int | None = None,
        channel: int | None = None,
        fixed: Mapping[int, int] | None = None,
        name: str | None = None,
        closer: Any = None,
        from_file: bool = False,
    ) -> None:
        self._data = data
        self.shape: tuple[int, ...] = tuple(int(s) for s in data.shape)
        self.frame_axis = frame_axis
        self.y_axis, self.x_axis = y_axis, x_axis
        self.channel_axis, self.channel = channel_axis, channel
        self.fixed: dict[int, int] = dict(fixed or {})
        self.name = name or f"{type(data).__module__.split('.')[0]}.{type(data).__name__}"
        self._closer = closer
        self._from_file = from_file
        self.rgb = channel_axis is not None and channel is None
        self.num_frames: int = 1 if frame_axis is None else self.shape[frame_axis]
        self.frame_shape: tuple[int, int] = (self.shape[y_axis], self.shape[x_axis])
        self.dtype = np.dtype(data.dtype)

    def __len__(self) -> int:
        return self.num_frames

    @property
    def label_shape(self) -> tuple[int, ...]:
        """Shape of the original data without its channel axis (a matching labels layer)."""
        return tuple(s for a, s in enumerate(self.shape) if a != self.channel_axis)

    def _data_index(self, frame: int) -> tuple:
        index: list[Any] = []
        for axis in range(len(self.shape)):
            if axis == self.frame_axis:
                index.append(frame)
            elif axis in (self.y_axis, self.x_axis):
                index.append(slice(None))
            elif axis == self.channel_axis:
                # RGBA: keep the first three channels only.
                index.append(slice(0, 3) if self.channel is None else self.channel)
            else:
                index.append(self.fixed.get(axis, 0))
        return tuple(index)

    def _check(self, frame: int) -> int:
        frame = int(frame)
        if not 0 <= frame < self.num_frames:
            raise FrameIndexError(
                f"frame {frame} out of range for {self.num_frames} frames "
                f"(0..{self.num_frames - 1})"
            )
        return frame

    def read(self, frame: int) -> np.ndarray:
        """Frame ``frame`` as ``(H, W)`` or ``(H, W, 3)``, raw dtype; reads only that frame."""
        index = self._data_index(self._check(frame))
        try:
            out = np.asarray(self._data[index])
        except Exception as err:
            if not self._from_file:
                raise
            # A damaged file can open (header intact) and fail on its pixel data.
            raise UnreadableFileError(
                f"{self.name}: cannot read frame {frame} ({_detail(err)})"
            ) from None
        if self.rgb and self.channel_axis is not None:
            # e.g. TCYX data: the channel comes out first, the engine wants it last.
            kept = sorted((self.y_axis, self.x_axis, self.channel_axis))
            out = np.moveaxis(out, kept.index(self.channel_axis), -1)
        if isinstance(self._data, np.ndarray):
            # Never hand out a view into the caller's array or a file-backed memmap.
            out = np.array(out, copy=True)
        return out

    def __getitem__(self, frame: int) -> np.ndarray:
        return self.read(frame)

    def index_of(self, frame: int) -> tuple:
        """Index into the original data *without* its channel axis where ``frame`` lies.

        Ints for the frame and fixed axes, ``slice(None)`` for Y and X, so
        ``labels[source.index_of(i)] = mask`` writes frame ``i`` of a labels
        array of shape :attr:`label_shape`.
        """
        index = self._data_index(self._check(frame))
        return tuple(ix for a, ix in enumerate(index) if a != self.channel_axis)

    def describe(self) -> str:
        """Short, deterministic description (also used in feature-cache fingerprints)."""
        parts = [f"{self.name} {self.shape} {self.dtype}"]
        if self.frame_axis is None:
            parts.append("single frame")
        else:
            parts.append(f"frames along axis {self.frame_axis} ({self.num_frames})")
        others = {
            a: self.fixed.get(a, 0)
            for a in range(len(self.shape))
            if a not in (self.frame_axis, self.y_axis, self.x_axis, self.channel_axis)
        }
        if others:
            parts.append(f"fixed {others}")
        if self.channel_axis is not None:
            what = "RGB" if self.channel is None else f"channel {self.channel}"
            parts.append(f"{what} of axis {self.channel_axis}")
        return "; ".join(parts)

    def close(self) -> None:
        """Release an open file (TIFF read through zarr); harmless otherwise."""
        if self._closer is not None:
            self._closer.close()
            self._closer = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FrameSource({self.describe()})"


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{what} must be an integer, got {value}")
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {_show(value)}") from None


def _show(value: Any) -> str:
    """A short description of a bad argument, without numpy repr noise."""
    if isinstance(value, (str, int, float)) or value is None:
        return repr(value)[:40]
    shape = getattr(value, "shape", None)
    return type(value).__name__ if shape is None else f"{type(value).__name__} of shape {shape}"


def _norm_axis(axis: int, ndim: int, what: str) -> int:
    axis = _as_int(axis, what)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{what} {axis} out of range for data with {ndim} dimensions")
    return axis % ndim


def _guess_rgb(shape: tuple[int, ...]) -> bool:
    return len(shape) >= 3 and shape[-1] in (3, 4) and min(shape[-3:-1]) > RGB_MIN_SIDE


def _detail(err: BaseException) -> str:
    """A foreign error in a few words: its type and first line, without object reprs."""
    line = (str(err).strip().splitlines() or [""])[0]
    line = re.sub(r"<[^<>]*? at 0x[0-9a-fA-F]+>", "an object", line)[:120]
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


def _open_path(path: Path) -> tuple[Any, Any]:
    """Open a file lazily; returns (array-like, object to close or None)."""
    if not path.exists():
        raise MissingFileError(2, "no such file or directory", str(path))
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        kind = "TIFF"
    elif suffix == ".npy":
        kind = "NumPy .npy"
    elif suffix == ".zarr" or (path / ".zarray").exists() or (path / "zarr.json").exists():
        kind = "zarr"
    else:
        raise ValueError(
            f"{path}: unknown file type {suffix or path.name!r}; "
            "expected .tif/.tiff, .npy or .zarr"
        )
    try:
        return _open_file(path, kind)
    except UnreadableFileError:
        raise
    except Exception as err:  # any parser failure means a damaged or foreign file
        raise UnreadableFileError(
            f"{path}: cannot read it as a {kind} file ({_detail(err)})"
        ) from None


def _open_file(path: Path, kind: str) -> tuple[Any, Any]:
    if kind == "TIFF":
        import tifffile

        try:
            return tifffile.memmap(path, mode="r"), None
        except ValueError:
            # Compressed or tiled: read through tifffile's zarr store, page by page.
            import zarr

            store = tifffile.imread(path, aszarr=True)
            try:
                arr = zarr.open(store, mode="r")
                if not hasattr(arr, "shape"):  # a multiscale group: take full resolution
                    arr = arr["0"]
            except BaseException:
                store.close()
                raise
            return arr, store
    if kind == "NumPy .npy":
        return np.load(path, mmap_mode="r", allow_pickle=False), None
    import zarr

    arr = zarr.open(str(path), mode="r")
    if not hasattr(arr, "shape"):
        if "0" not in arr:
            raise UnreadableFileError(
                f"{path} is a zarr group without an array '0'; open the array"
            )
        arr = arr["0"]
    return arr, None


def open_frames(
    data: Any,
    frame_axis: int = 0,
    channel: int | None = None,
    *,
    channel_axis: int | None = None,
    rgb: bool | None = None,
    fixed: Mapping[int, int] | None = None,
) -> FrameSource:
    """A :class:`FrameSource` over ``data`` (see the module docstring for axis rules).

    ``data``: numpy array or memmap, dask or zarr array, any array-like with
    ``shape``/``dtype``/basic indexing, a path to ``.tif``/``.tiff``, ``.npy``
    or a ``.zarr`` directory, or a FrameSource (returned unchanged).
    """
    if isinstance(data, FrameSource):
        return data
    closer, name = None, None
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        data, closer = _open_path(path)
        name = str(path)
    elif not (hasattr(data, "shape") and hasattr(data, "dtype") and hasattr(data, "__getitem__")):
        try:
            data = np.asarray(data)
        except (TypeError, ValueError):
            raise ValueError(
                f"frame data must be an array or a file path, got {_show(data)}"
            ) from None
    try:
        return _build(data, frame_axis, channel, channel_axis, rgb, fixed, name, closer)
    except Exception:
        if closer is not None:
            closer.close()
        raise


def _build(data, frame_axis, channel, channel_axis, rgb, fixed, name, closer) -> FrameSource:
    shape = tuple(int(s) for s in data.shape)
    ndim = len(shape)
    kind = np.dtype(data.dtype).kind
    if kind not in "biuf":
        raise ValueError(
            f"frame data of dtype {np.dtype(data.dtype)} is not an image; "
            "expected bool, integer or float pixels"
        )
    if 0 in shape:
        raise ValueError(f"frame data of shape {shape} is empty")
    if channel_axis is not None:
        channel_axis = _norm_axis(channel_axis, ndim, "channel_axis")
    elif rgb or (rgb is None and _guess_rgb(shape)):
        channel_axis = ndim - 1
        if ndim < 3 or shape[-1] not in (3, 4):
            raise ValueError(f"rgb=True needs a last axis of size 3 or 4, data shape {shape}")
    elif channel is not None:
        raise ValueError(
            f"channel={channel} given but data {shape} has no channel axis; pass channel_axis"
        )
    spatial = [a for a in range(ndim) if a != channel_axis]
    if len(spatial) < 2:
        raise ValueError(f"data of shape {shape} has fewer than 2 spatial dimensions")
    y_axis, x_axis = spatial[-2], spatial[-1]
    if channel is not None:
        channel = _as_int(channel, "channel")
    if channel_axis is not None:
        n_channels = shape[channel_axis]
        if channel is not None:
            if not -n_channels <= channel < n_channels:
                raise ValueError(f"channel {channel} out of range for {n_channels} channels")
            channel %= n_channels
        elif n_channels not in (3, 4):
            raise ValueError(
                f"channel axis {channel_axis} has {n_channels} channels, not RGB(A): "
                "pick one with channel="
            )
    if len(spatial) == 2:
        f_axis = None  # a single image: one-frame video
    else:
        f_axis = _norm_axis(frame_axis, ndim, "frame_axis")
        if f_axis in (y_axis, x_axis, channel_axis):
            raise ValueError(
                f"frame_axis {frame_axis} is a spatial axis or the channel axis "
                f"(Y={y_axis}, X={x_axis}, channel={channel_axis})"
            )
    if fixed is not None and not isinstance(fixed, Mapping):
        raise ValueError(f"fixed must be a mapping {{axis: index}}, got {_show(fixed)}")
    fixed_norm: dict[int, int] = {}
    for axis, index in (fixed or {}).items():
        a = _norm_axis(axis, ndim, "fixed axis")
        if a in (f_axis, y_axis, x_axis, channel_axis):
            raise ValueError(f"fixed axis {axis} is the frame, a spatial or the channel axis")
        if a in fixed_norm:
            raise ValueError(f"axis {a} fixed twice (as {a} and {a - ndim}); give it once")
        index = _as_int(index, f"fixed index of axis {axis}")
        if not -shape[a] <= index < shape[a]:
            raise ValueError(f"fixed index {index} out of range for axis {a} of size {shape[a]}")
        fixed_norm[a] = int(index) % shape[a]
    return FrameSource(
        data,
        frame_axis=f_axis,
        y_axis=y_axis,
        x_axis=x_axis,
        channel_axis=channel_axis,
        channel=channel,
        fixed=fixed_norm,
        name=name,
        closer=closer,
        from_file=name is not None,
    )
