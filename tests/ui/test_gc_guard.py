"""Cycles are collected by the GUI thread's timer, never by whichever thread allocates."""

import gc
import weakref

from playground.ui.gc_guard import MainThreadGarbageCollector


class Node:
    pass


def test_cycles_are_collected_on_the_gui_thread_timer(qtbot, qapp):
    collector = MainThreadGarbageCollector()
    collector.start()
    try:
        assert not gc.isenabled()
        node = Node()
        node.self = node  # a cycle: only the cycle collector frees it
        alive = weakref.ref(node)
        del node
        keep = [Node() for _ in range(2000)]  # live allocations push generation 0 over its threshold
        qtbot.waitUntil(lambda: alive() is None, timeout=5000)
        assert len(keep) == 2000
    finally:
        collector.stop()


def test_settle_keeps_start_up_objects_out_of_later_collections(qtbot, qapp):
    collector = MainThreadGarbageCollector()
    collector.start()
    try:
        collector.settle()
        assert gc.get_freeze_count() > 0
        node = Node()
        node.self = node  # made after settling: still collected
        alive = weakref.ref(node)
        del node
        keep = [Node() for _ in range(2000)]
        qtbot.waitUntil(lambda: alive() is None, timeout=5000)
        assert len(keep) == 2000
    finally:
        collector.stop()
    assert gc.get_freeze_count() == 0
