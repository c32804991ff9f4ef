"""PySide6 6.12.0 aborts after ~570 Signal.emit() calls on Python 3.11; the pinned range must not."""

from PySide6.QtCore import QObject, QThread, Signal, Slot


class _Emitter(QObject):
    value = Signal(int)
    finished = Signal()

    @Slot()
    def run(self) -> None:
        for i in range(10_000):
            self.value.emit(i)
        self.finished.emit()


class _Receiver(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.total = 0

    @Slot(int)
    def on_value(self, i: int) -> None:
        self.count += 1
        self.total += i


def test_ten_thousand_cross_thread_signals(qtbot):
    thread = QThread()
    emitter = _Emitter()
    emitter.moveToThread(thread)
    receiver = _Receiver()
    emitter.value.connect(receiver.on_value)
    thread.started.connect(emitter.run)
    with qtbot.waitSignal(emitter.finished, timeout=30_000):
        thread.start()
    qtbot.waitUntil(lambda: receiver.count == 10_000, timeout=30_000)
    thread.quit()
    assert thread.wait(5_000)
    assert receiver.total == sum(range(10_000))



def test_a_stopped_function_worker_ends_early_and_sends_no_result(qtbot):
    """stop() (another folder opened, the window closing) must not wait for a long report."""
    import time

    from retina_gui.workers import FunctionWorker

    def long_report(cancel):
        for _ in range(600):  # 60 s unless cancelled
            cancel.raise_if_cancelled()
            time.sleep(0.1)
        return "report"

    results = []
    worker = FunctionWorker(long_report)
    worker.done.connect(results.append)
    worker.start()
    qtbot.wait(200)
    start = time.perf_counter()
    worker.stop()
    assert time.perf_counter() - start < 1
    qtbot.wait(50)
    assert results == []
