"""The core (model, engine) never imports napari or Qt; the model never imports the engine."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import napari_sam2.model, napari_sam2.model.checkpoint
model_mods = set(sys.modules)
import napari_sam2.engine.session, napari_sam2.engine.image_predictor, napari_sam2.loading
bad = sorted(m for m in sys.modules if m.split('.')[0] in {'napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'magicgui', 'vispy'})
engine_in_model = sorted(m for m in model_mods if m.startswith('napari_sam2.engine'))
print(bad, engine_in_model)
assert not bad, bad
assert not engine_in_model, engine_in_model
"""


def test_core_has_no_gui_imports():
    proc = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
