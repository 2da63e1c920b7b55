"""napari adapters without Qt widgets: layers <-> prompts, labels writing with
undo, the propagation controller, sample data, the writer, a console helper.

Qt widgets live in :mod:`napari_sam2._widgets`; engine logic lives in
:mod:`napari_sam2.engine` and is only *driven* from here.
"""
