#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang, ASan and UBSan (in build-fuzz/), writes their seed
# corpora (promptgrid's own writers, plus files cut down from ../shared/data when it is there) and runs
# every target for the given number of seconds. A crash, sanitizer report, leak, timeout or memory
# blow-up stops the script with the input saved under build-fuzz/findings/<target>/.
#   bash scripts/fuzz.sh            # the short run of the test command: 8 s per target
#   bash scripts/fuzz.sh 1800       # a long run: 30 minutes per target (the corpus grows in build-fuzz/)
#   bash scripts/fuzz.sh 300 npy    # some targets only
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-8}
targets=(pickle torch_archive safetensors npy split_file bpe_vocabulary feature_store sweep_file journal image job_script)
all_targets=("${targets[@]}")
if [ $# -gt 1 ]; then targets=("${@:2}"); fi

mkdir -p build-fuzz
cmake -S . -B build-fuzz -G Ninja -DPG_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ > build-fuzz/build.log 2>&1 || { cat build-fuzz/build.log; exit 1; }
cmake --build build-fuzz -j "$(nproc)" >> build-fuzz/build.log 2>&1 || { tail -50 build-fuzz/build.log; exit 1; }

shared=../shared/data
if [ ! -d "$shared" ]; then
  echo "fuzz: $shared is missing; seeding from promptgrid's own writers only"
  shared=""
fi
build-fuzz/fuzz/make_seeds build-fuzz/corpus $shared

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0
# libhdf5's own leaks (see the file) are not findings; promptgrid's are.
export LSAN_OPTIONS=suppressions=$PWD/scripts/lsan_suppressions.txt
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
for target in "${targets[@]}"; do
  if [ ! -x "build-fuzz/fuzz/fuzz_$target" ]; then
    echo "fuzz: no target '$target'; the targets are: ${all_targets[*]}"
    exit 2
  fi
  mkdir -p "build-fuzz/corpus/$target" "build-fuzz/findings/$target"
  # An allocation larger than this is a finding. libhdf5 (not promptgrid) sizes some buffers from
  # header fields before checking them against the file (a 4 GiB malloc for a 53-byte file): only
  # the resident memory limit applies to the feature store.
  malloc_limit=1024
  if [ "$target" = feature_store ]; then malloc_limit=65536; fi
  log="build-fuzz/findings/$target/last_run.log"
  if ! "build-fuzz/fuzz/fuzz_$target" "build-fuzz/corpus/$target" -max_total_time="$seconds" -max_len=65536 \
      -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb="$malloc_limit" -print_final_stats=1 \
      -artifact_prefix="build-fuzz/findings/$target/" > "$log" 2>&1; then
    tail -60 "$log"
    echo "fuzz: $target FAILED; the input is in build-fuzz/findings/$target/"
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  corpus=$(ls "build-fuzz/corpus/$target" | wc -l)
  echo "fuzz: $target: $runs inputs in ${seconds} s, corpus $corpus files, no finding"
done
