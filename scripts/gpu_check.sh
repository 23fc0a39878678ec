#!/usr/bin/env bash
# The GPU checks and figures of the worker's GPU step (DESIGN §5), in one run of at most 10 minutes on
# a machine with a CUDA device and a CUDA PyTorch whose LibTorch promptgrid builds against (the device
# tool's machine: its ../shared is not there, so the test data travels in .gpu_data/).
#
#   bash scripts/gpu_check.sh --prepare   # here: copies the test data into .gpu_data/, with Debian's
#                                         # libjpeg for a machine without its headers
#   bash scripts/gpu_check.sh             # there (carry .gpu_data): build, CUDA tests, the worker suite
#                                         # on LibTorch 2.x (fused attention), bench at 10/100/1000 classes
#
# Logs go to $OUT (the device tool's folder that comes back), else to gpu_out/; summary.txt has it all.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == --prepare ]]; then
  shared=../shared/data
  [[ -d $shared ]] || { echo "gpu_check: $shared is missing: it holds the test data to copy" >&2; exit 1; }
  rm -rf .gpu_data && mkdir -p .gpu_data/golden .gpu_data/jpeg
  cp -r "$shared/clip" "$shared/splits" "$shared/fewshot" .gpu_data/
  # The golden files but the ResNet's TorchScript copy (14 MB: with it the carry passes 64 MiB); the
  # test that reads it is left out below.
  find "$shared/golden" -maxdepth 1 -type f ! -name 'tiny_clip_rn.pt' -exec cp {} .gpu_data/golden/ \;
  (cd .gpu_data/jpeg && apt-get download libjpeg62-turbo libjpeg62-turbo-dev > /dev/null 2>&1 &&
     for deb in *.deb; do dpkg -x "$deb" .; done && rm -f ./*.deb &&
     cp usr/include/x86_64-linux-gnu/jconfig.h usr/include/) ||
    echo "gpu_check: could not fetch Debian's libjpeg; the GPU machine must have libjpeg's headers" >&2
  grep -qx '/.gpu_data/' .git/info/exclude 2>/dev/null || echo '/.gpu_data/' >> .git/info/exclude
  du -sh .gpu_data
  exit 0
fi

out=${OUT:-gpu_out}
mkdir -p "$out"
summary=$out/summary.txt
: > "$summary"
say() { echo "$*" | tee -a "$summary"; }
[[ -d .gpu_data ]] || { say "gpu_check: .gpu_data/ is missing: run 'bash scripts/gpu_check.sh --prepare' where ../shared is, and carry it"; exit 1; }
prefix=$(python3 -c "import torch; print(torch.utils.cmake_prefix_path)") || { say "gpu_check: no PyTorch for python3"; exit 1; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$summary"

# What the build needs from the system; libjpeg can come from .gpu_data.
missing=()
for header in hdf5.h mpi.h yaml-cpp/yaml.h CLI/CLI.hpp gtest/gtest.h nlohmann/json.hpp png.h zlib.h; do
  echo "#include <$header>" | g++ -x c++ -fsyntax-only -I/usr/include/hdf5/serial $(mpicxx --showme:compile 2>/dev/null) - \
    > /dev/null 2>&1 || missing+=("$header")
done
((${#missing[@]} == 0)) || say "gpu_check: headers not found: ${missing[*]} (configure may fail)"
jpeg=()
if ! echo '#include <cstdio>
#include <jpeglib.h>' | g++ -x c++ -fsyntax-only - > /dev/null 2>&1; then
  lib=$(ls "$PWD"/.gpu_data/jpeg/usr/lib/x86_64-linux-gnu/libjpeg.so 2>/dev/null)
  jpeg=(-DJPEG_INCLUDE_DIR="$PWD/.gpu_data/jpeg/usr/include" -DJPEG_LIBRARY="$lib")
  say "gpu_check: libjpeg from .gpu_data (${lib:-missing})"
fi

generator="Unix Makefiles"
command -v ninja > /dev/null && generator=Ninja
start=$SECONDS
cmake -S . -B build-gpu -G "$generator" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
      -DPG_SHARED_DATA_DIR="$PWD/.gpu_data" "${jpeg[@]}" > "$out/build.log" 2>&1 &&
  cmake --build build-gpu -j "$(nproc)" --target promptgrid worker_tests >> "$out/build.log" 2>&1
status=$?
grep -E "promptgrid: (Torch|NCCL)" "$out/build.log" | tee -a "$summary"
say "build: exit $status after $((SECONDS - start)) s ($(nproc) cores)"
if [[ $status -ne 0 ]]; then grep -E "error|Error|not found" "$out/build.log" | head -20 | tee -a "$summary"; exit 1; fi
export LD_LIBRARY_PATH=$PWD/.gpu_data/jpeg/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}

say "== CUDA and device tests"
timeout 200 build-gpu/tests/worker_tests --gtest_filter='CudaStep.*:HalfPrecision.*:*Cuda*' > "$out/cuda_tests.log" 2>&1
say "exit $?"
grep -E "^(cpu|cuda)|^\[  (PASSED|FAILED|SKIPPED) |FAILED  \]|Failure|Skipped" "$out/cuda_tests.log" | tee -a "$summary"

say "== worker suite on LibTorch 2.x (CPU tensors: the fused-attention path against the golden files)"
timeout 150 build-gpu/tests/worker_tests --gtest_brief=1 \
  --gtest_filter='-CudaStep.*:HalfPrecision.*:*Cuda*:ImageEncoderBothFormats/ImageEncoderResNet.*/1' \
  > "$out/worker_tests.log" 2>&1
say "exit $?"
grep -E "FAILED|PASSED|Failure" "$out/worker_tests.log" | tail -15 | tee -a "$summary"

say "== bench: CoOp step, ViT-B/16 text tower, bf16 (dense bf16 peak of an H100/H200 SXM: 989 TFLOP/s)"
for classes in 10 100 1000; do
  timeout 60 build-gpu/promptgrid bench --device cuda --precision bf16 --classes "$classes" --truncate on \
    --steps 20 --warmup 5 --peak-tflops 989 2>&1 | tee -a "$summary"
done
say "== bench: 10-class runs packed"
timeout 60 build-gpu/promptgrid bench --device cuda --precision bf16 --classes 10 --pack 64 --steps 10 \
  --peak-tflops 989 2>&1 | tee -a "$summary"
say "total: $((SECONDS - start)) s"
