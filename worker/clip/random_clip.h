// Randomly initialised CLIP towers with OpenAI's key names, initialised as CLIP's
// initialize_parameters does. For the built-in synthetic benchmark and for speed benchmarks of
// real-sized towers (text: ViT-B/16's width 512, 12 layers; image: ViT-B/16, RN50) without a
// checkpoint file.
#pragma once

#include <cstdint>

#include "worker/clip/modified_resnet.h"
#include "worker/clip/state_dict.h"
#include "worker/clip/text_encoder.h"
#include "worker/clip/vision_transformer.h"

namespace pg::worker {

StateDict random_clip_text_tower(const TextEncoderOptions& options, uint64_t seed);

// Image towers: visual.* keys only (load them with make_image_encoder, worker/clip/image_encoder.h).
// BatchNorm running statistics are mean 0, variance 1.
StateDict random_clip_vit_tower(const VisionTransformerOptions& options, uint64_t seed);
StateDict random_clip_resnet_tower(const ModifiedResNetOptions& options, uint64_t seed);

}  // namespace pg::worker
