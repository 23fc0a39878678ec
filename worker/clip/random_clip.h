// A randomly initialised CLIP text tower with OpenAI's key names, initialised as CLIP's
// initialize_parameters does. For the built-in synthetic benchmark and for speed benchmarks of
// real-sized towers (ViT-B/16: width 512, 12 layers) without a checkpoint file.
#pragma once

#include <cstdint>

#include "worker/clip/state_dict.h"
#include "worker/clip/text_encoder.h"

namespace pg::worker {

StateDict random_clip_text_tower(const TextEncoderOptions& options, uint64_t seed);

}  // namespace pg::worker
