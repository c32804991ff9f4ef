"""Helper of test_annotations: saves a growing store in a loop until it is killed, printing
``saved N`` (N = boxes in the file) after each completed save."""

import sys

from core.annotations import AnnotationFile
from core.labels import Box

with AnnotationFile(sys.argv[1]) as labels_file:
    store = labels_file.load()
    category = store.categories[0].id
    print("ready", flush=True)
    while True:
        n = len(store.boxes("a.jpg"))
        store.append_boxes("a.jpg", (4000, 3000), [Box(n % 3000, 1, n % 3000 + 10, 20, category)])
        labels_file.save(store)
        print(f"saved {n + 1}", flush=True)
