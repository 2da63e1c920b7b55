"""``python -m napari_sam2``: the same as the ``napari-sam2`` command."""

from __future__ import annotations

import sys

from napari_sam2.cli import main

if __name__ == "__main__":
    sys.exit(main())
