#!/usr/bin/env bash
# docker-compose.yml's `convert` service, inside NVIDIA's TensorRT image, from the checkout.
#
# 1. Install the project from a copy (pip would leave root-owned build/ and *.egg-info in
#    the checkout), with [ngc] and the cuda-python that matches the image's CUDA.
# 2. deploy/convert/stage.sh: the ONNX serving graphs (must work), then each TensorRT
#    engine (may fail; fp16 falls back to fp32, a model without a plan is served as ONNX).
# model_repository/ is handed back to the checkout's owner at the end, whatever happened.
set -euo pipefail

checkout=$PWD
stage=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/stage.sh
repo=${U2NET_MODEL_REPOSITORY:-$checkout/model_repository}
models=${U2NET_TRT_MODELS:-u2net,u2netp}
precision=${TRT_PRECISION:-fp16}
cuda_major=${CUDA_VERSION:-12}
cuda_major=${cuda_major%%.*}
owner=$(stat -c %u:%g "$checkout")
src=$(mktemp -d)

finish() {
    chown -R "$owner" "$repo" 2>/dev/null || true
    rm -rf "$src"
}
trap finish EXIT

cp -r "$checkout"/pyproject.toml "$checkout"/README.md "$checkout"/u2net "$checkout"/client \
    "$checkout"/convert "$checkout"/server "$checkout"/doctor "$src"/
echo "convert: installing u2net-triton[ngc] and cuda-python ${cuda_major}.x" >&2
python3 -m pip install --no-cache-dir "$src[ngc]" "cuda-python==${cuda_major}.*"
cd /  # run the installed copy, not the checkout (and write no __pycache__ into it)

U2NET_MODEL_REPOSITORY=$repo U2NET_TRT_MODELS=$models TRT_PRECISION=$precision \
    bash "$stage"
