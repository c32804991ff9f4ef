"""Pure-PyTorch RetinaNet engine of retina-gui.

Nothing in this package imports Qt. Public functions take and return paths, numbers and plain
dataclasses (numpy arrays inside them at most); tensors and modules stay inside the package.
"""
