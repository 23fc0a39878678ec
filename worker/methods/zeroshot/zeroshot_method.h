// Zero-shot CLIP as a method (method.h): trains nothing; its classifier for any class list is the
// text features of the dataset's hand-crafted template (zeroshot.h).
#pragma once

#include <memory>

#include "worker/methods/method.h"

namespace pg::worker {

std::unique_ptr<TrainedMethod> run_zeroshot(const MethodTask& task, MethodEnvironment& environment);

}  // namespace pg::worker
