"""The core (model, engine, checkpoints) never imports napari or Qt; the model never imports
the engine or the checkpoints; the checkpoints never import engine session code."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import napari_sam2.model, napari_sam2.model.checkpoint
model_mods = set(sys.modules)
import napari_sam2.checkpoints.loading, napari_sam2.checkpoints.download, napari_sam2.checkpoints.standin
ckpt_mods = set(sys.modules)
import napari_sam2.engine.session, napari_sam2.engine.image_predictor
bad = sorted(m for m in sys.modules if m.split('.')[0] in {'napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'magicgui', 'vispy'})
engine_in_model = sorted(m for m in model_mods
                         if m.startswith(('napari_sam2.engine', 'napari_sam2.checkpoints')))
# The checkpoints may use engine helpers (the device picker), never sessions or caches.
engine_in_ckpt = sorted(m for m in ckpt_mods if m.startswith('napari_sam2.engine')
                        and m not in ('napari_sam2.engine', 'napari_sam2.engine.device'))
print(bad, engine_in_model, engine_in_ckpt)
assert not bad, bad
assert not engine_in_model, engine_in_model
assert not engine_in_ckpt, engine_in_ckpt
"""


def test_core_has_no_gui_imports():
    proc = subprocess.run([sys.executable, "-c", CHECK], check=False, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
