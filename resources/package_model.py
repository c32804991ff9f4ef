"""Package a training run's best checkpoint as the bundled demo model (fp16 storage keeps it small).

    .venv/bin/python resources/package_model.py runs/demo/best.safetensors
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.weights import load_checkpoint, save_checkpoint  # noqa: E402

TARGET = Path(__file__).resolve().parent / "models" / "demo_chess_mobilenet_v2.safetensors"


def main(source: Path) -> None:
    checkpoint = load_checkpoint(source)
    save_checkpoint(TARGET, checkpoint.build_model(), checkpoint.spec, float_dtype=torch.float16)
    print(f"{TARGET}: {TARGET.stat().st_size / 1e6:.1f} MB, classes {[c.name for c in checkpoint.spec.classes]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
