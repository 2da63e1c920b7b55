"""Training data: labelled stacks, and image / clip batches drawn from them.

A labelled stack is an image ``(T, H, W)`` (any dtype the engine accepts)
with instance labels ``(T, H, W)`` whose ids persist across frames. Sources:

* :class:`GeneratorSource`: synthetic stacks from ``napari_sam2.engine.synthetic``
  (training seeds are >= 1000; seeds below are held out for evaluation);
* :func:`load_tiff_pair` / :func:`load_ctc`: a user's TIFF image + label stacks,
  or Cell Tracking Challenge folders (``01/t000.tif`` with ``01_ST/SEG`` or
  ``01_GT/SEG`` masks, linked over time by ``01_GT/TRA`` where present).

Frames are prepared exactly as the engine prepares them (``to_model_input``:
same normalisation, same resize), labels are resized by nearest neighbour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from napari_sam2.engine.preprocess import Normalization, to_model_input

MIN_AREA = 12  # object pixels at model resolution to count as visible and promptable


@dataclass
class LabelledStack:
    image: np.ndarray  # (T, H, W)
    labels: np.ndarray  # (T, H, W) integer ids, 0 background
    linked: bool = True  # ids persist across frames (needed for clips)
    name: str = ""


@dataclass
class ImageBatch:
    images: torch.Tensor  # (N, 3, S, S) model input
    targets: torch.Tensor  # (R, S, S) float 0/1, one row per object
    image_index: torch.Tensor  # (R,) which image each object row is on
    neighbours: torch.Tensor | None = (
        None  # (R, S, S) bool: a cell touching the row's object (or none)
    )


@dataclass
class ClipBatch:
    frames: torch.Tensor  # (L, 3, S, S) model input, in propagation order
    targets: torch.Tensor  # (L, B, S, S) float 0/1; all zero where the object is absent


def model_frames(
    image: np.ndarray, image_size: int, normalization: Normalization | None = None
) -> torch.Tensor:
    """``(T, H, W)`` raw frames -> ``(T, 3, S, S)`` encoder input, as the engine computes it."""
    norm = normalization or Normalization()
    return torch.cat([to_model_input(f, image_size, norm, frame=i) for i, f in enumerate(image)])


def model_labels(labels: np.ndarray, image_size: int) -> np.ndarray:
    """``(T, H, W)`` labels -> ``(T, S, S)`` by nearest neighbour (pixel centres)."""
    h, w = labels.shape[1:]
    if (h, w) == (image_size, image_size):
        return labels
    ys = ((np.arange(image_size) + 0.5) * h / image_size).astype(np.int64).clip(0, h - 1)
    xs = ((np.arange(image_size) + 0.5) * w / image_size).astype(np.int64).clip(0, w - 1)
    return labels[:, ys][:, :, xs]


def _augment(image: np.ndarray, labels: np.ndarray, rng: np.random.Generator):
    """Random flips and quarter turns (the same for every frame)."""
    k = int(rng.integers(4))
    if k:
        image, labels = np.rot90(image, k, axes=(1, 2)), np.rot90(labels, k, axes=(1, 2))
    if rng.random() < 0.5:
        image, labels = image[:, :, ::-1], labels[:, :, ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(labels)


def _visible_ids(labels2d: np.ndarray) -> list[int]:
    ids, counts = np.unique(labels2d, return_counts=True)
    return [int(i) for i, c in zip(ids, counts) if i != 0 and c >= MIN_AREA]


def _zoom(image: np.ndarray, labels: np.ndarray, rng: np.random.Generator, min_scale: float):
    """A random square crop of ``min_scale``..1 of the shorter side (resized to the input later)."""
    h, w = image.shape[-2:]
    side = int(rng.uniform(min_scale, 1.0) * min(h, w))
    y0, x0 = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
    return image[..., y0 : y0 + side, x0 : x0 + side], labels[..., y0 : y0 + side, x0 : x0 + side]


def image_batch(
    stacks: list[LabelledStack],
    n_images: int,
    objs_per_image: int,
    image_size: int,
    rng: np.random.Generator,
    p_zoom: float = 0.0,
    min_zoom: float = 0.5,
    p_touching: float = 0.0,
) -> ImageBatch:
    """``n_images`` random frames with up to ``objs_per_image`` objects each.

    With probability ``p_zoom`` a frame is a random crop (``min_zoom``..1 of its
    side) enlarged to the input size: cells appear up to twice as large.
    With probability ``p_touching`` the batch takes only objects that touch
    another cell (where a frame has any): random objects of sparse stacks
    rarely do, so a box around a cell and its neighbour would hold one cell.
    """
    touching = p_touching > 0 and rng.random() < p_touching  # no draw at 0: old streams kept
    images, targets, index, neighbours = [], [], [], []
    tries = 0
    while len(images) < n_images:
        tries += 1
        if tries > 50 * n_images:
            raise ValueError("the training data has (almost) no labelled objects")
        st = stacks[int(rng.integers(len(stacks)))]
        t = int(rng.integers(len(st.image)))
        img, lab = _augment(st.image[t : t + 1], st.labels[t : t + 1], rng)
        if p_zoom > 0 and rng.random() < p_zoom:
            img, lab = _zoom(img, lab, rng, min_zoom)
        lab = model_labels(lab, image_size)[0]
        ids = _visible_ids(lab)
        if touching:
            near = [i for i in ids if _touching_ids(lab, i)]
            if not near and tries < 25 * n_images:
                continue  # another frame (sparse stacks may have no touching cells at all)
            ids = near or ids
        if not ids:
            continue
        chosen = rng.choice(ids, size=min(objs_per_image, len(ids)), replace=False)
        for obj in chosen:
            targets.append(torch.from_numpy(lab == obj))
            neighbours.append(torch.from_numpy(_neighbour(lab, int(obj), rng)))
            index.append(len(images))
        images.append(model_frames(img, image_size))
    return ImageBatch(
        torch.cat(images),
        torch.stack(targets).float(),
        torch.tensor(index),
        torch.stack(neighbours),
    )


def _touching_ids(lab: np.ndarray, obj: int) -> list[int]:
    """The cells within two pixels of ``obj``."""
    from scipy import ndimage

    ring = ndimage.binary_dilation(lab == obj, iterations=2)
    return [int(i) for i in np.unique(lab[ring]) if i not in (0, obj)]


def _neighbour(lab: np.ndarray, obj: int, rng: np.random.Generator) -> np.ndarray:
    """The mask of a random cell touching ``obj`` (empty if none)."""
    ids = _touching_ids(lab, obj)
    if not ids:
        return np.zeros(lab.shape, bool)
    return lab == ids[int(rng.integers(len(ids)))]


def clip_batch(
    stacks: list[LabelledStack],
    length: int,
    max_objects: int,
    image_size: int,
    rng: np.random.Generator,
    p_leaving: float = 0.3,
    min_absent: int = 0,
) -> ClipBatch:
    """A forward clip of ``length`` frames (stride 1 or 2, maybe time-reversed) and
    up to ``max_objects`` objects visible on its first frame.

    With probability ``p_leaving`` objects that vanish within the clip (leave
    the field, divide, end in z) are preferred, so the object score learns absence;
    with ``min_absent`` such a clip is redrawn (for a while) until one of them
    is absent from at least that many frames (early exits, long absences), and
    a cell that stays is tracked beside the leavers.
    """
    linked = [s for s in stacks if s.linked and len(s.image) >= length]
    if not linked:
        raise ValueError(
            f"no labelled stack with linked ids and at least {length} frames for clips"
        )
    want_leaving = None
    for attempt in range(100):
        st = linked[int(rng.integers(len(linked)))]
        n = len(st.image)
        stride = 2 if n >= 2 * length - 1 and rng.random() < 0.4 else 1
        span = (length - 1) * stride + 1
        start = int(rng.integers(n - span + 1))
        order = np.arange(start, start + span, stride)
        if rng.random() < 0.5:
            order = order[::-1]
        img, lab = _augment(st.image[order], st.labels[order], rng)
        lab = model_labels(lab, image_size)
        ids = _visible_ids(lab[0])
        if not ids:
            continue
        if want_leaving is None or not min_absent:  # drawn here as before min_absent existed
            want_leaving = rng.random() < p_leaving
        chosen = None
        if want_leaving:
            absent = {i: sum((lab[k] == i).sum() < MIN_AREA for k in range(length)) for i in ids}
            leaving = [i for i in ids if absent[i] > 0]
            if min_absent and attempt < 60 and max(absent.values()) < min_absent:
                continue
            staying = [i for i in ids if absent[i] == 0]
            if leaving and min_absent and staying and max_objects > 1:
                # Leavers beside a cell that stays: absence must be told from presence
                # (leavers alone taught the object score to drop cells that stay).
                n = min(max_objects - 1, len(leaving))
                chosen = np.append(rng.choice(leaving, size=n, replace=False), rng.choice(staying))
            elif leaving:
                ids = leaving
        if chosen is None:
            chosen = rng.choice(ids, size=min(max_objects, len(ids)), replace=False)
        targets = np.stack([lab == obj for obj in chosen], axis=1)  # (L, B, S, S)
        # Specks below MIN_AREA count as absent, as on the first frame.
        areas = targets.sum(axis=(2, 3))
        targets[areas < MIN_AREA] = False
        return ClipBatch(model_frames(img, image_size), torch.from_numpy(targets).float())
    raise ValueError("could not draw a clip with a visible object from the training data")


# -- sources -----------------------------------------------------------------
class GeneratorSource:
    """A pool of synthetic stacks, one replaced by a fresh one every ``refresh`` draws."""

    def __init__(self, specs: list, seed: int = 1000, pool: int = 6, refresh: int = 4) -> None:
        from napari_sam2.engine.synthetic import make_stack

        self._make = make_stack
        self.specs = specs
        self.next_seed = max(int(seed), 1000)  # seeds < 1000 are held out
        self.refresh = refresh
        self.draws = 0
        self.stacks = [self._new() for _ in range(pool)]

    def _new(self) -> LabelledStack:
        spec = self.specs[self.next_seed % len(self.specs)]
        s = self._make(spec, self.next_seed)
        self.next_seed += 1
        return LabelledStack(s.image, s.labels, True, f"synthetic:{s.seed}")

    def get(self, rng: np.random.Generator) -> list[LabelledStack]:
        self.draws += 1
        if self.draws % self.refresh == 0:
            self.stacks[int(rng.integers(len(self.stacks)))] = self._new()
        return self.stacks

    def state(self) -> dict:
        return {"next_seed": self.next_seed, "draws": self.draws}


class FixedSource:
    """Stacks loaded once (a user's files)."""

    def __init__(self, stacks: list[LabelledStack]) -> None:
        if not stacks:
            raise ValueError("no training stacks given")
        self.stacks = stacks

    def get(self, rng: np.random.Generator) -> list[LabelledStack]:
        return self.stacks

    def state(self) -> dict:
        return {}


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    return tifffile.imread(path)


def load_tiff_pair(image_path: str | Path, labels_path: str | Path) -> LabelledStack:
    """An image stack and its label stack (same shape; one 2-D frame is a 1-frame stack)."""
    image = _read_tiff(Path(image_path))
    labels = _read_tiff(Path(labels_path))
    if image.shape != labels.shape:
        raise ValueError(
            f"image {image_path} has shape {image.shape} "
            f"but labels {labels_path} have {labels.shape}"
        )
    if image.ndim == 2:
        image, labels = image[None], labels[None]
    if image.ndim != 3:
        raise ValueError(
            f"{image_path}: expected a (T, H, W) or (H, W) stack, got shape {image.shape}"
        )
    if labels.dtype.kind not in "iub":
        raise ValueError(f"{labels_path}: labels must be integers, got {labels.dtype}")
    return LabelledStack(image, labels.astype(np.int64), True, Path(image_path).name)


def _frame_files(folder: Path, prefix: str) -> dict[int, Path]:
    out = {}
    for p in folder.glob(f"{prefix}*.tif"):
        m = re.search(r"(\d+)\.tif$", p.name)
        if m:
            out[int(m.group(1))] = p
    return out


def _link(seg: np.ndarray, tra: np.ndarray) -> np.ndarray:
    """Relabel a segmentation by the tracking markers it overlaps most (0 where none)."""
    out = np.zeros_like(seg)
    for obj in np.unique(seg[seg > 0]):
        marks = tra[seg == obj]
        marks = marks[marks > 0]
        if len(marks):
            out[seg == obj] = np.bincount(marks).argmax()
    return out


def load_ctc(folder: str | Path) -> list[LabelledStack]:
    """Every sequence of a Cell Tracking Challenge dataset folder (``01``, ``02``, ...).

    Silver-truth segmentations (``NN_ST/SEG``) cover every frame and, linked by
    ``NN_GT/TRA``, make clips; gold-truth ``NN_GT/SEG`` frames (a few per
    sequence) become single-frame stacks for image batches.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"Cell Tracking Challenge folder not found: {folder}")
    stacks = []
    for seq in sorted(p for p in folder.iterdir() if p.is_dir() and re.fullmatch(r"\d+", p.name)):
        frames = _frame_files(seq, "t")
        tra = _frame_files(folder / f"{seq.name}_GT" / "TRA", "man_track")
        st = _frame_files(folder / f"{seq.name}_ST" / "SEG", "man_seg")
        gt = _frame_files(folder / f"{seq.name}_GT" / "SEG", "man_seg")
        if st and set(frames) <= set(st) and tra:
            ts = sorted(frames)
            image = np.stack([_read_tiff(frames[t]) for t in ts])
            labels = np.stack(
                [
                    _link(_read_tiff(st[t]).astype(np.int64), _read_tiff(tra[t]).astype(np.int64))
                    for t in ts
                ]
            )
            stacks.append(LabelledStack(image, labels, True, f"{folder.name}/{seq.name}"))
        for t, path in sorted(gt.items()):
            if t in frames:
                img, lab = _read_tiff(frames[t]), _read_tiff(path).astype(np.int64)
                if img.ndim == 2 and img.shape == lab.shape:
                    stacks.append(
                        LabelledStack(img[None], lab[None], False, f"{folder.name}/{seq.name}:{t}")
                    )
    if not stacks:
        raise ValueError(
            f"{folder}: no sequences with segmentations (expected 01/, 01_GT/SEG or 01_ST/SEG)"
        )
    return stacks
