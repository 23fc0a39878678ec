#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the main job on its default:
# the synthetic benchmark (`promptgrid synth`: no GPU, no downloads) swept by examples/demo.yaml under
# mpirun with 3 ranks (rank 0 coordinates, 2 workers); then the benchmark's texture images go through
# `features extract` (under mpirun too) and examples/textures.yaml. Extra arguments go to the first
# `promptgrid run` (overrides such as shots=[1] or --retries 1). Running it again resumes: finished
# tasks are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_dependencies.sh
bash scripts/build.sh
# Class counts capped at 100 (ImageNet, SUN397, Cars...) so that every method and protocol runs in minutes.
./build/promptgrid synth --out demo_out/synthetic --max-classes 100 --force
# Open MPI refuses to start as root unless told twice; 3 ranks on fewer cores need --oversubscribe.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun --oversubscribe -np 3 ./build/promptgrid run examples/demo.yaml --out demo_out/sweep "$@"
# The images: synth wrote them again, so their features are extracted again (into a fresh store).
rm -f demo_out/synthetic/textures.h5
mpirun --oversubscribe -np 3 ./build/promptgrid features extract --images demo_out/synthetic/images \
  --split demo_out/synthetic/split_zhou_DescribableTextures.json --dataset dtd \
  --clip demo_out/synthetic/clip.safetensors --out demo_out/synthetic/textures.h5 --views 2
mpirun --oversubscribe -np 3 ./build/promptgrid run examples/textures.yaml --out demo_out/textures
