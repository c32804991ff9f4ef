"""Label file formats (no Qt): COCO JSON; every writer is atomic."""


class LabelFormatError(ValueError):
    """A label file that cannot be read; the message names the file and what is wrong."""
