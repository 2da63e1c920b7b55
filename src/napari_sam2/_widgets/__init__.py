"""Qt widgets of the napari plugin (everything else lives in ``_napari``)."""
