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


def test_a_download_cut_short_or_damaged_is_not_kept_as_the_weights(tmp_path):
    """A connection that closed early ended the reads without an error: the part file was renamed
    into torch's cache as the weights, and every later "Get COCO RetinaNet" took it for them."""
    import hashlib
    import http.server
    import threading

    from retina_gui.workers import DownloadWorker

    body = b"weights" * 1000
    sha = hashlib.sha256(body).hexdigest()

    class Server(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:1000] if "short" in self.path else body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        for name, error in ((f"short-{sha[:8]}.pth", "the connection closed after 1,000 of 7,000 bytes"),
                            (f"weights-{'0' * 8}.pth", "arrived damaged"), (f"weights-{sha[:8]}.pth", None)):
            worker = DownloadWorker(f"{base}/{name}", tmp_path)
            outcome = []
            worker.done.connect(lambda path: outcome.append(("done", path)))
            worker.failed.connect(lambda why: outcome.append(("failed", why)))
            worker.run()  # what its thread runs, here on this one
            if error is None:
                assert outcome == [("done", tmp_path / name)] and (tmp_path / name).read_bytes() == body
            else:
                assert outcome[0][0] == "failed" and error in outcome[0][1] and not (tmp_path / name).exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == [f"weights-{sha[:8]}.pth"]  # no part file left
    finally:
        server.shutdown()
