#!/usr/bin/env bash
# The GPU checks and figures of the worker's GPU step (DESIGN §5), in one run on a machine with a CUDA
# device and a CUDA PyTorch whose LibTorch promptgrid builds against (the device tool's machine: its
# ../shared is not there, so the test data travels in .gpu_data/).
#
#   bash scripts/gpu_check.sh --prepare   # here: copies the test data the checks read into .gpu_data/
#   bash scripts/gpu_check.sh             # there (carry .gpu_data): build, CUDA tests, the worker suite
#                                         # on LibTorch 2.x (fused attention), bench at 10/100/1000 classes
#
# Logs go to $OUT (the device tool's folder that comes back), else to gpu_out/.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == --prepare ]]; then
  shared=../shared/data
  [[ -d $shared ]] || { echo "gpu_check: $shared is missing: it holds the test data to copy" >&2; exit 1; }
  rm -rf .gpu_data && mkdir -p .gpu_data/golden
  cp -r "$shared/clip" "$shared/splits" "$shared/fewshot" .gpu_data/
  # The golden tensors and JSON; not the TorchScript .pt copies (28 MB the GPU checks do not read).
  find "$shared/golden" -maxdepth 1 -type f ! -name '*.pt' -exec cp {} .gpu_data/golden/ \;
  grep -qx '/.gpu_data/' .git/info/exclude 2>/dev/null || echo '/.gpu_data/' >> .git/info/exclude
  du -sh .gpu_data
  exit 0
fi

out=${OUT:-gpu_out}
mkdir -p "$out"
[[ -d .gpu_data ]] || { echo "gpu_check: .gpu_data/ is missing: run 'bash scripts/gpu_check.sh --prepare' where ../shared is, and carry it" >&2; exit 1; }
prefix=$(python3 -c "import torch; print(torch.utils.cmake_prefix_path)") || { echo "gpu_check: no PyTorch for python3" >&2; exit 1; }
generator="Unix Makefiles"
command -v ninja > /dev/null && generator=Ninja
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"

step() { echo "== $*" | tee -a "$out/summary.txt"; }
step "configure and build ($(nproc) cores)"
start=$SECONDS
cmake -S . -B build-gpu -G "$generator" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
      -DPG_SHARED_DATA_DIR="$PWD/.gpu_data" > "$out/build.log" 2>&1 &&
  cmake --build build-gpu -j "$(nproc)" --target promptgrid worker_tests >> "$out/build.log" 2>&1
status=$?
grep -E "promptgrid: (Torch|NCCL)" "$out/build.log" | tee -a "$out/summary.txt"
echo "build: exit $status after $((SECONDS - start)) s" | tee -a "$out/summary.txt"
if [[ $status -ne 0 ]]; then tail -40 "$out/build.log"; exit 1; fi

step "CUDA tests"
build-gpu/tests/worker_tests --gtest_filter='CudaStep.*:*Cuda*' 2>&1 | tee "$out/cuda_tests.log" | grep -E "^\[  (PASSED|FAILED|SKIPPED)|FAILED  \]|Failure" | tee -a "$out/summary.txt"

step "worker suite on LibTorch 2.x (CPU tensors: the fused-attention path against the golden files)"
build-gpu/tests/worker_tests --gtest_brief=1 > "$out/worker_tests.log" 2>&1
echo "worker_tests: exit $?" | tee -a "$out/summary.txt"
grep -E "FAILED|PASSED" "$out/worker_tests.log" | tail -15 | tee -a "$out/summary.txt"

step "bench: CoOp step, ViT-B/16 text tower, bf16 (dense bf16 peak of an H100/H200 SXM: 989 TFLOP/s)"
for classes in 10 100 1000; do
  timeout 120 build-gpu/promptgrid bench --device cuda --precision bf16 --classes "$classes" --truncate on \
    --steps 20 --warmup 5 --peak-tflops 989 2>&1 | tee -a "$out/summary.txt"
done
step "bench: 10-class runs packed (run-steps per second)"
timeout 180 build-gpu/promptgrid bench --device cuda --precision bf16 --classes 10 --pack 64 --steps 10 2>&1 | tee -a "$out/summary.txt"
