// `promptgrid bench --decode`: the images/s of feature extraction's CPU side (read + decode + convert +
// PIL-exact bicubic resize + center crop + normalise; and the training view's random resized crop), on
// one core and on every core, over JPEG and PNG files written for the purpose (photo-sized, 500x375
// and 375x500, as most of the benchmark's datasets are).
#pragma once

namespace pg::orchestrator {

// `images`: how many files to time (written to a temporary folder, removed after); `threads`: the
// thread count of the parallel run (0: one per core).
void bench_image_pipeline(int images, int threads);

}  // namespace pg::orchestrator
