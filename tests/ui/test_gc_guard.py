"""Cycles are collected by the GUI thread's timer, never by whichever thread allocates."""

import gc
import weakref

from playground.ui.gc_guard import MainThreadGarbageCollector


class Node:
    pass


def test_cycles_are_collected_on_the_gui_thread_timer(qtbot, qapp):
    collector = MainThreadGarbageCollector()
    collector._timer.setInterval(10)   # the policy, not the pace: ticks as fast as the test likes
    collector.start()
    try:
        assert not gc.isenabled()
        node = Node()
        node.self = node  # a cycle: only the cycle collector frees it
        alive = weakref.ref(node)
        del node
        keep = []

        def collected() -> bool:
            # live allocations push the generations over their thresholds, whichever one the cycle
            # is in by now (an earlier collection elsewhere in the suite may have aged it)
            keep.extend(Node() for _ in range(1000))
            return alive() is None

        qtbot.waitUntil(collected, timeout=10_000)
        assert keep and all(type(k) is Node for k in keep)
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


def test_full_collections_wait_while_a_run_trains_and_run_when_it_ends(qtbot, qapp):
    """A full collection walks everything made since start-up (~90 ms once a project is open):
    during a run only the younger generations are collected; the full one comes at its end."""
    collector = MainThreadGarbageCollector()
    collector._timer.setInterval(10)
    generations = []

    def seen(phase, info):
        if phase == "start":
            generations.append(info["generation"])

    gc.callbacks.append(seen)
    collector.start()
    keep = []
    try:
        collector.set_busy(True)

        def young_collections_ran() -> bool:
            keep.extend(Node() for _ in range(2000))   # counts climb past every threshold
            return len(generations) >= 30

        qtbot.waitUntil(young_collections_ran, timeout=10_000)
        assert 2 not in generations and 1 in generations
        collector.set_busy(False)

        def full_collection_ran() -> bool:
            keep.extend(Node() for _ in range(2000))
            return 2 in generations

        qtbot.waitUntil(full_collection_ran, timeout=10_000)
    finally:
        gc.callbacks.remove(seen)
        collector.stop()
