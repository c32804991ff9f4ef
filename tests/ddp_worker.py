"""Run under torchrun by test_distributed.py: a tiny training step per rank, parameters saved per rank."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.test_distributed import make_trainer  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    trainer = make_trainer(out / "run", batch_size=1)
    trainer.run()
    rank = dist.get_rank()
    torch.save({k: v.detach().clone() for k, v in trainer.model.state_dict().items()}, out / f"rank{rank}.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
