"""The dock on a 1366 x 768 laptop screen: it scrolls, every group is reachable,
and the plugin's messages are shown in full."""

from __future__ import annotations

from napari_sam2._napari import notify
from napari_sam2._napari.sample_data import make_timelapse

LAPTOP = (1366, 768)


def test_dock_scrolls_on_a_laptop_screen(make_napari_viewer, standin_checkpoint, qtbot):
    from tests.napari.conftest import PLUGIN, WIDGET

    viewer = make_napari_viewer(show=True)
    viewer.add_image(make_timelapse(4, 128, 2), name="cells")
    dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, WIDGET)
    widget.settings.advanced.setChecked(True)  # the tallest state of the dock
    window = viewer.window._qt_window
    window.showNormal()
    window.resize(*LAPTOP)
    qtbot.waitUntil(lambda: window.height() <= LAPTOP[1], timeout=5_000)
    content = widget.scroll.widget()
    assert content.sizeHint().height() > widget.height()  # taller than what fits ...
    assert widget.minimumSizeHint().height() < 400  # ... yet the dock does not demand it
    assert dock.height() <= LAPTOP[1]
    assert widget.scroll.verticalScrollBar().maximum() > 0
    for title in ("Propagate", "Objects", "Confidence (click: go to frame)"):
        box = widget.boxes_by_title[title]
        widget.scroll.ensureWidgetVisible(box, 0, 0)
        qtbot.wait(50)
        assert not box.visibleRegion().isEmpty(), f"{title} cannot be scrolled into view"


def test_error_messages_are_shown_in_full(open_widget, qtbot):
    _viewer, widget = open_widget(make_timelapse(3, 96, 2))
    message = (
        "SAM 2: the checkpoint file /a/very/long/path/to/sam2.1_hiera_tiny.pt is not a "
        "SAM 2 checkpoint (it is an HTML page); download it again with "
        "`napari-sam2 checkpoints download tiny` or choose another file\nsecond line"
    )
    notify.error(message)
    qtbot.waitUntil(lambda: widget.message.text() == message, timeout=5_000)
    assert widget.message.wordWrap() and not widget.message.isHidden()
    notify.info("fine")  # information does not replace the error
    assert widget.message.text() == message
