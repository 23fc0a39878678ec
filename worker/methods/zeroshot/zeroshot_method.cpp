#include "worker/methods/zeroshot/zeroshot_method.h"

#include "worker/evaluation.h"
#include "worker/methods/zeroshot/zeroshot.h"

namespace pg::worker {
namespace {

class ZeroShotClip : public TrainedMethod {
 public:
  ZeroShotClip(TextEncoder encoder, const text::Tokenizer& tokenizer) : encoder_(std::move(encoder)), tokenizer_(tokenizer) {}
  std::unique_ptr<Classifier> classifier(const std::vector<std::string>& classnames,
                                         const std::string& prompt_template) override {
    return std::make_unique<TextFeatureClassifier>(
        zeroshot_text_features(encoder_, tokenizer_, prompt_template, classnames));
  }

 private:
  TextEncoder encoder_;
  const text::Tokenizer& tokenizer_;
};

}  // namespace

std::unique_ptr<TrainedMethod> run_zeroshot(const MethodTask&, MethodEnvironment& environment) {
  return std::make_unique<ZeroShotClip>(environment.encoder(torch::kFloat32), environment.tokenizer);
}

}  // namespace pg::worker
