#!/usr/bin/env bash
# The CUDA checks of issues 2, 3 and 6 in one command, for the lent GPU machine (its python3 has
# torch and torchvision; everything else comes in .device-kit, see benchmarks/device_kit.py).
#
#   here:   .venv/bin/python benchmarks/device_kit.py
#   there:  run with carry [".device-kit"], timeout_s 600:  bash benchmarks/gpu_checks.sh [STEP...]
#
# STEPs (default: all, in this order): cuda_tests bench_forward bench_train bench_train8 profile
# finetune demo_recipe. They took about 7 minutes on an H100, but their time limits add up to 11: a session
# short of device time names the ones it still needs.
# Logs and tables land in $OUT (or ./gpu-checks-out). The window's CUDA figures (issue 5) are not
# here: PySide6 cannot travel to that machine (its wheel is larger than the transfer limit).
set -u -o pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-checks-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .device-kit/wheels/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
# benchmarks and tests read ../shared, which does not travel
[ -e ../shared ] || ln -s "$PWD/.device-kit/shared" ../shared
export TORCH_HOME=/tmp/torch-home
mkdir -p "$TORCH_HOME/hub/checkpoints"
cp ../shared/weights/mobilenet_v2-b0353104.pth "$TORCH_HOME/hub/checkpoints/"

STEPS=" ${*:-cuda_tests bench_forward bench_train bench_train8 profile finetune demo_recipe} "

step() {  # step NAME COMMAND...: run, keep its log, say how long it took (when NAME was asked for)
    local name=$1; shift
    [[ $STEPS == *" $name "* ]] || return 0
    local start=$SECONDS
    echo "== $name"
    "$@" >"$OUT/$name.log" 2>&1
    echo "   exit $? after $((SECONDS - start)) s"
    tail -n 25 "$OUT/$name.log"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.cuda.is_available())"
step cuda_tests timeout 80 python3 -m pytest -q -p no:cacheprovider -m cuda tests/test_device.py tests/test_train.py tests/test_postprocess.py tests/test_boxes.py
step bench_forward timeout 100 python3 benchmarks/bench_forward.py --device cuda
step bench_train timeout 90 python3 benchmarks/bench_train.py --device cuda --steps 30
step bench_train8 timeout 90 python3 benchmarks/bench_train.py --device cuda --steps 30 --batch-size 8  # Train's batch on a GPU
step profile timeout 100 python3 benchmarks/gpu_profile.py --device cuda
step finetune timeout 130 python3 benchmarks/finetune_piece_types.py --device cuda --out /tmp/piece-run
step demo_recipe timeout 170 python3 -m core.cli train --coco ../shared/datasets/chess/train/_annotations.coco.json \
    --val-coco ../shared/datasets/chess/valid/_annotations.coco.json --backbone mobilenet_v2 --pretrained-backbone \
    --fpn-channels 128 --epochs 20 --batch-size 4 --image-size 512 --max-size 768 --device cuda --workers 8 --out /tmp/demo-run
cp /tmp/demo-run/metrics.json "$OUT/demo_metrics.json" 2>/dev/null
