"""The ``retina`` command: a thin layer over core's functions.

Exit codes: 0 success; 1 an error that stopped the command (message on stderr); 2 bad usage;
3 finished, but some inputs were skipped (each one reported on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

EXIT_ERROR, EXIT_USAGE, EXIT_SKIPPED = 1, 2, 3


def _predict(args: argparse.Namespace) -> int:
    from core.atomic import write_json
    from core.detector import Detector
    from core.predict import coco_results, predict_files

    detector = Detector.from_file(args.weights, preset=args.preset, device=args.device, precision=args.precision)
    detector.postprocess_config = detector.with_postprocess(
        score_thresh=args.score_thresh if args.score_thresh is not None else detector.postprocess_config.score_thresh,
        nms_thresh=args.nms_thresh if args.nms_thresh is not None else detector.postprocess_config.nms_thresh,
    )
    names = {p: n for item in map(Path, args.inputs) for p, n in _named_images(item)}
    paths = list(names)
    skipped = 0
    if args.coco:
        ids = _coco_ids(Path(args.coco))
        matched = []
        for p in paths:
            image_id = _match(p, Path(args.coco).parent, ids)
            if image_id is None:
                print(f"skipped {p}: not among the images of {args.coco}", file=sys.stderr)
                skipped += 1
            else:
                matched.append((p, image_id))
    else:
        matched = [(p, i + 1) for i, p in enumerate(paths)]
    if not matched:
        print("no images to predict", file=sys.stderr)
        return EXIT_ERROR
    image_ids = dict(matched)
    category_ids = [c.id for c in detector.classes]
    results: list[dict] = []
    errors: list[str] = []
    rt = detector.runtime
    bar = tqdm(total=len(matched), file=sys.stderr, unit="img", desc=f"predict ({rt.device}, {rt.precision})")

    def progress(p):
        bar.update(p.done - bar.n)

    for result in predict_files(
        detector, [p for p, _ in matched], batch_size=args.batch_size, on_progress=progress, on_error=lambda e: errors.append(str(e))
    ):
        results.extend(coco_results(result, image_ids[result.path], names[result.path], category_ids))
    bar.close()
    for message in errors:
        print(f"skipped {message}", file=sys.stderr)
    write_json(args.out, results)
    print(f"{len(results)} detections on {len(matched) - len(errors)} images written to {args.out}", file=sys.stderr)
    return EXIT_SKIPPED if (errors or skipped) else 0


def _coco_ids(path: Path) -> dict[str, int]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(im["file_name"]): int(im["id"]) for im in data["images"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"retina: cannot read image ids from {path}: {exc}") from None


def _match(path: Path, root: Path, ids: dict[str, int]) -> int | None:
    """The COCO id of ``path``: by its path relative to the COCO file's folder, else by file name."""
    try:
        rel = path.resolve().relative_to(root.resolve()).as_posix()
        if rel in ids:
            return ids[rel]
    except ValueError:
        pass
    by_name = [i for name, i in ids.items() if Path(name).name == path.name]
    return by_name[0] if len(by_name) == 1 else None


def _named_images(item: Path) -> list[tuple[Path, str]]:
    """Images of one input with the ``file_name`` they get: relative to a folder input, else the name."""
    from core.images import list_images

    if item.is_dir():
        return [(p, p.relative_to(item).as_posix()) for p in list_images([item])]
    return [(item, item.name)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="retina", description="RetinaNet tools of retina-gui.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("predict", help="detect objects in images and write COCO results JSON")
    p.add_argument("inputs", nargs="+", help="image files and/or folders (searched recursively)")
    p.add_argument("--weights", required=True, help="a retina-gui .safetensors, torchvision or yhenon weights file")
    p.add_argument("--preset", choices=["retinanet", "yhenon", "torchvision_v1", "torchvision_v2"], help="override the weights' preset")
    p.add_argument("--score-thresh", type=float, help="minimum score (default: the preset's, 0.05)")
    p.add_argument("--nms-thresh", type=float, help="NMS IoU threshold (default: the preset's, 0.5)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda:N (default auto)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--coco", help="take image ids from this COCO file, matching by file_name")
    p.add_argument("--out", required=True, help="results JSON to write")
    p.set_defaults(run=_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core.backbones import WeightsUnavailableError

    try:
        return args.run(args)
    except (ValueError, OSError, WeightsUnavailableError) as exc:  # bad input: a message, not a traceback
        print(f"retina: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("retina: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
