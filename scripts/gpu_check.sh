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

# Everything below must end within the device tool's 600 s per command.
start=$SECONDS
deadline=$((start + 570))
left() { local n=$((deadline - SECONDS)); ((n > 1)) && echo "$n" || echo 1; }
build_seconds() { local n=$(($(left) - 150)); ((n > 60)) && echo "$n" || echo 60; }  # 150 s for the rest

# What the build needs from the system; libjpeg can come from .gpu_data. Without GoogleTest only the
# bench is built; without the others nothing can be.
has_header() {
  echo "#include <$1>" | g++ -x c++ -fsyntax-only -I/usr/include/hdf5/serial \
    $(mpicxx --showme:compile 2>/dev/null || mpicxx -compile_info 2>/dev/null | cut -d' ' -f2-) - > /dev/null 2>&1
}
missing=()
for header in hdf5.h mpi.h yaml-cpp/yaml.h CLI/CLI.hpp nlohmann/json.hpp png.h zlib.h; do
  has_header "$header" || missing+=("$header")
done
if ((${#missing[@]} > 0)); then
  say "gpu_check: this machine lacks the headers of ${missing[*]}: promptgrid cannot be built here; carry those -dev packages"
  exit 1
fi
tests=(-DBUILD_TESTING=ON)
has_header gtest/gtest.h || { tests=(-DBUILD_TESTING=OFF); say "gpu_check: no GoogleTest headers: the bench only"; }
jpeg=()
if ! echo '#include <cstdio>
#include <jpeglib.h>' | g++ -x c++ -fsyntax-only - > /dev/null 2>&1; then
  lib=$(ls "$PWD"/.gpu_data/jpeg/usr/lib/x86_64-linux-gnu/libjpeg.so 2>/dev/null)
  jpeg=(-DJPEG_INCLUDE_DIR="$PWD/.gpu_data/jpeg/usr/include" -DJPEG_LIBRARY="$lib")
  say "gpu_check: libjpeg from .gpu_data (${lib:-missing})"
fi

generator="Unix Makefiles"
command -v ninja > /dev/null && generator=Ninja
targets=(promptgrid)
[[ ${tests[0]} == -DBUILD_TESTING=ON ]] && targets+=(worker_tests)
timeout "$(left)" cmake -S . -B build-gpu -G "$generator" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
      -DPG_SHARED_DATA_DIR="$PWD/.gpu_data" "${tests[@]}" "${jpeg[@]}" > "$out/build.log" 2>&1 &&
  timeout "$(build_seconds)" cmake --build build-gpu -j "$(nproc)" --target "${targets[@]}" >> "$out/build.log" 2>&1
status=$?
grep -E "promptgrid: (Torch|NCCL)" "$out/build.log" | tee -a "$summary"
say "build: exit $status after $((SECONDS - start)) s ($(nproc) cores)"
if [[ $status -ne 0 ]]; then grep -E "error|Error|not found" "$out/build.log" | head -20 | tee -a "$summary"; exit 1; fi
export LD_LIBRARY_PATH=$PWD/.gpu_data/jpeg/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# The figures first (they are what no other machine can give), then the tests, each within what is left.
say "== bench: CoOp step, ViT-B/16 text tower, bf16 (dense bf16 peak of an H100/H200 SXM: 989 TFLOP/s)"
for classes in 10 100 1000; do
  timeout 30 build-gpu/promptgrid bench --device cuda --precision bf16 --classes "$classes" --truncate on \
    --steps 20 --warmup 5 --peak-tflops 989 2>&1 | tee -a "$summary"
done
say "== bench: 10-class runs packed (both ways launched, no CUDA graph)"
timeout 40 build-gpu/promptgrid bench --device cuda --precision bf16 --classes 10 --pack 64 --steps 10 \
  --peak-tflops 989 2>&1 | tee -a "$summary"
[[ ${tests[0]} == -DBUILD_TESTING=ON ]] || { say "total: $((SECONDS - start)) s"; exit 0; }

say "== CUDA and device tests"
timeout $(($(left) * 3 / 5)) build-gpu/tests/worker_tests --gtest_filter='CudaStep.*:HalfPrecision.*:*Cuda*' > "$out/cuda_tests.log" 2>&1
say "exit $?"
grep -E "^(cpu|cuda)|^\[  (PASSED|FAILED|SKIPPED) |FAILED  \]|Failure|Skipped" "$out/cuda_tests.log" | tee -a "$summary"

say "== worker suite on LibTorch 2.x (CPU tensors: the fused-attention path against the golden files)"
timeout "$(left)" build-gpu/tests/worker_tests --gtest_brief=1 \
  --gtest_filter='-CudaStep.*:HalfPrecision.*:*Cuda*:ImageEncoderBothFormats/ImageEncoderResNet.*/1' \
  > "$out/worker_tests.log" 2>&1
say "exit $?"
grep -E "FAILED|PASSED|Failure" "$out/worker_tests.log" | tail -15 | tee -a "$summary"
say "total: $((SECONDS - start)) s"
