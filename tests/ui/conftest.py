"""pytest-qt set-up: garbage collected in the GUI thread; a test fails if it leaves a QThread running."""

from tests.qt_support import collect_garbage_in_the_gui_thread, no_thread_left_running  # noqa: F401
