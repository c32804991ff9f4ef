import os

import numpy as np
import pytest
from PIL import Image

from core.images import ImageReadError, image_size, list_images, load_image
from tests.conftest import DATASETS

PNGSUITE = DATASETS / "pngsuite" / "png"
EXIF = DATASETS / "exif_orientation"


def test_pngsuite_valid_files_decode_to_rgb_and_corrupt_ones_are_reported():
    files = sorted(PNGSUITE.glob("*.png"))
    corrupt = [f for f in files if f.name.startswith("x")]
    assert len(files) > 150 and corrupt
    for f in files:
        if f in corrupt:
            with pytest.raises(ImageReadError) as info:
                load_image(f)
            assert f.name in str(info.value)
        else:
            a = load_image(f)
            assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3, f.name


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    ramp = (np.arange(256, dtype=np.uint16).reshape(16, 16) * 257)
    path = tmp_path / "g16.png"
    Image.fromarray(ramp).save(path)
    a = load_image(path)
    np.testing.assert_array_equal(a[..., 0], (ramp // 257).astype(np.uint8))


def test_exif_orientation_applied_to_pixels_and_size():
    for f in sorted(EXIF.glob("*.jpg")):
        expected = (1800, 1200) if f.name.startswith("Landscape") else (1200, 1800)
        a = load_image(f)
        assert (a.shape[1], a.shape[0]) == expected, f.name
        assert image_size(f) == expected, f.name


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 3] = 0
    rgba[0, 0] = (10, 20, 30, 255)
    path = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(path)
    a = load_image(path)
    assert tuple(a[0, 0]) == (10, 20, 30) and tuple(a[1, 1]) == (255, 255, 255)


def test_missing_and_non_image_files(tmp_path):
    with pytest.raises(ImageReadError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    (tmp_path / "notes.jpg").write_text("not an image")
    with pytest.raises(ImageReadError, match="not a JPG image: damaged, or another kind of file under that name"):  # (it said JPEG can be read)
        load_image(tmp_path / "notes.jpg")
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(ImageReadError, match=r"not an image, or of a format that cannot be read \(JPEG, PNG"):
        load_image(tmp_path / "notes.txt")
    (tmp_path / "empty.jpg").write_bytes(b"")  # said as such (it was "not an image format PIL can read")
    with pytest.raises(ImageReadError, match=r"an empty file \(0 bytes\)"):
        load_image(tmp_path / "empty.jpg")
    truncated = tmp_path / "half.jpg"
    data = (DATASETS / "sample_photos" / "sklearn" / "china.jpg").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated"):
        load_image(truncated)


def test_list_images_expands_folders_sorted():
    found = list_images([EXIF])
    assert [f.name for f in found] == sorted(f.name for f in EXIF.glob("*.jpg"))


def test_sample_photos_and_other_formats(tmp_path):
    photos = sorted((DATASETS / "sample_photos").glob("*/*.*"))
    unreadable = {"multipage_rgb.tif"}  # a TIFF layout PIL cannot decode
    for f in photos:
        if f.suffix == ".txt":
            continue
        if f.name in unreadable:
            with pytest.raises(ImageReadError):
                load_image(f)
        else:
            assert load_image(f).shape[2] == 3, f.name
    source = load_image(DATASETS / "sample_photos" / "skimage" / "coffee.png")
    for suffix in (".bmp", ".webp", ".tiff"):
        path = tmp_path / f"coffee{suffix}"
        Image.fromarray(source).save(path, **({"lossless": True} if suffix == ".webp" else {}))
        np.testing.assert_array_equal(load_image(path), source)


def test_reduced_preview_has_the_orientation_and_full_size_of_the_full_decode():
    from core.images import load_preview

    for name in ("Landscape_6.jpg", "Portrait_6.jpg", "Portrait_1.jpg"):
        path = DATASETS / "exif_orientation" / name
        full = load_image(path)
        preview = load_preview(path, 600)
        assert (preview.height, preview.width) == full.shape[:2]
        assert max(preview.pixels.shape[:2]) <= 600 and max(preview.pixels.shape[:2]) > 300
        h, w = preview.pixels.shape[:2]
        assert (h > w) == (full.shape[0] > full.shape[1])
        # same picture: the mean colour of each quadrant agrees within a few levels
        for qy in (0, 1):
            for qx in (0, 1):
                a = full[qy * full.shape[0] // 2 : (qy + 1) * full.shape[0] // 2, qx * full.shape[1] // 2 : (qx + 1) * full.shape[1] // 2]
                b = preview.pixels[qy * h // 2 : (qy + 1) * h // 2, qx * w // 2 : (qx + 1) * w // 2]
                assert abs(a.mean() - b.mean()) < 4, (name, qx, qy)


def test_very_large_photos_load_and_only_decompression_bombs_are_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("RGB", (40, 40), (10, 20, 30)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 1,600 px: over PIL's warning size, under its refusal (2x)
    assert load_image(path).shape == (40, 40, 3) and image_size(path) == (40, 40)  # as a 100 MP photo is over the default
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 700)  # 1,600 px > 2 x 700: a bomb
    with pytest.raises(ImageReadError, match="too large"):
        load_image(path)


def test_a_png_turned_by_its_exif_chunk_is_sized_from_the_header_alone(tmp_path, monkeypatch):
    from PIL import ImageFile, PngImagePlugin

    path = tmp_path / "turned.png"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90° clockwise
    pixels = np.zeros((30, 50, 3), np.uint8)
    pixels[:, :10] = 255  # the left edge white: after the turn, the top edge
    Image.fromarray(pixels).save(path, exif=exif.tobytes())
    shown = load_image(path)
    assert shown.shape == (50, 30, 3) and shown[:10].min() == 255 and shown[10:].max() == 0
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("image_size decoded the pixels"))
    assert image_size(path) == (30, 50)  # (width, height) as shown, the frame boxes are stored in
    xmp = tmp_path / "xmp.png"  # the orientation in XMP instead, as some editors write it
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                  '<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="6"/></rdf:RDF></x:xmpmeta>')
    Image.fromarray(pixels).save(xmp, pnginfo=info)
    assert image_size(xmp) == (30, 50)
    monkeypatch.undo()
    assert load_image(xmp).shape == (50, 30, 3)


def test_folders_are_listed_as_the_window_lists_them_linked_subfolders_included(tmp_path):
    """rglob skipped a linked subfolder without a word (the window lists it); a link back up is
    followed once, not forever; hidden names are left out, as in the window."""
    from core.images import list_images

    (tmp_path / "data" / "real").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    for path in (tmp_path / "data" / "a.jpg", tmp_path / "data" / "real" / "b.png", tmp_path / "elsewhere" / "c.jpg",
                 tmp_path / "data" / ".hidden.jpg"):
        path.write_bytes(b"x")
    (tmp_path / "data" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "data" / "real" / "up").symlink_to(tmp_path / "data", target_is_directory=True)  # a loop
    (tmp_path / "data" / "b_self.jpg").symlink_to(tmp_path / "data" / "b_self.jpg")  # a link to itself: ELOOP
    skipped = []
    found = [p.relative_to(tmp_path / "data").as_posix() for p in list_images([tmp_path / "data"], skipped)]
    assert found == ["a.jpg", "linked/c.jpg", "real/b.png"]  # the link to itself ended the listing: 0 images after it
    assert skipped == [f"{tmp_path / 'data' / 'b_self.jpg'} (Too many levels of symbolic links)"]  # (the link back up loses no image)


def test_a_float_image_in_0_to_1_is_not_black(tmp_path):
    """A float TIFF with values in [0, 1] decoded black (scaled as if 0..255), and predict found nothing."""
    import numpy as np
    from PIL import Image

    from core.images import load_image

    values = np.linspace(0, 1, 64 * 48, dtype=np.float32).reshape(48, 64)
    Image.fromarray(values, "F").save(tmp_path / "float.tif")
    pixels = load_image(tmp_path / "float.tif")
    assert pixels.shape == (48, 64, 3) and pixels.max() == 255 and abs(float(pixels.mean()) - 127.5) < 2


def test_a_pipe_named_like_an_image_is_reported_not_read(tmp_path):
    """retina predict on a folder holding a FIFO named pipe.jpg waited for it forever."""
    os.mkfifo(tmp_path / "pipe.jpg")
    with pytest.raises(ImageReadError, match=r"pipe.jpg: cannot read image \(not a regular file \(a pipe or a device\)\)"):
        load_image(tmp_path / "pipe.jpg")
    with pytest.raises(ImageReadError, match="not a regular file"):
        image_size(tmp_path / "pipe.jpg")


CRAFTED_TIFF = os.path.join(os.path.dirname(__file__), "data", "pil_typeerror.tif")  # a TIFF with bytes flipped


def test_a_file_pil_fails_on_with_another_error_is_reported_as_corrupt(tmp_path):
    """PIL raises TypeError decoding this TIFF (its header reads fine): it passed as no read error,
    and ended the window's image loader thread, cut a folder's prediction short and a training run."""
    from core.config import PreprocessConfig
    from core.dataset import DetectionDataset, Unreadable
    from core.images import load_preview
    from core.labels import Category, ImageEntry, LabelSet

    assert image_size(CRAFTED_TIFF) == (50, 169)
    for load in (load_image, lambda path: load_preview(path, 4096)):
        with pytest.raises(ImageReadError, match=r"corrupt: TypeError"):
            load(CRAFTED_TIFF)
    labels = LabelSet([Category(1, "x")], [ImageEntry(1, "pil_typeerror.tif", 50, 169, [])])
    sample = DetectionDataset(labels, os.path.dirname(CRAFTED_TIFF), [Category(1, "x")], preprocess=PreprocessConfig())[0]
    assert isinstance(sample, Unreadable) and "corrupt: TypeError" in sample.message


def test_running_out_of_memory_is_no_read_error_of_the_file(monkeypatch):
    """Any exception became "corrupt", a MemoryError on a 150 MP photo too: the file was marked
    unreadable, and again at every opening while unchanged."""
    import core.images

    def no_memory(_image):
        raise MemoryError

    monkeypatch.setattr(core.images, "_to_rgb", no_memory)
    with pytest.raises(MemoryError):
        load_image(DATASETS / "sample_photos" / "sklearn" / "china.jpg")


def test_would_list_follows_the_listing_rule():
    from core.images import walk_images, would_list

    assert would_list("a.jpg", recursive=False) and would_list("sub/a.jpg", recursive=True)
    assert not would_list("sub/a.jpg", recursive=False) and not would_list(".a.jpg", recursive=True)
    assert not would_list(".cache/a.jpg", recursive=True) and not would_list("sub/.a.jpg", recursive=True)
    listed = list(walk_images(DATASETS / "exif_orientation", recursive=False))
    assert listed and all(would_list(name, recursive=False) for name in listed)
