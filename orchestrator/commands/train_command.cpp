// `promptgrid train`: one task (method × dataset × shots × seed) in this process.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "common/error.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/record_files.h"
#include "orchestrator/task_runner.h"
#include "orchestrator/torch_threads.h"

namespace pg::orchestrator {

void add_train_command(CLI::App& app) {
  struct Arguments {
    RunnerOptions runner;
    std::string out_dir;
    sweeps::TaskSpec spec;
    bool rerun = false;
    int threads = 0;
  };
  auto args = std::make_shared<Arguments>();
  auto* command = app.add_subcommand(
      "train",
      "Train and test one task on cached features: CoOp (prompt learning) or zero-shot CLIP. Writes the result "
      "record <out>/<task_id>.json and, for CoOp, the learned context <out>/<task_id>.prompts.h5.");
  command->add_option("--features", args->runner.features_path, "Feature store (HDF5) with the dataset")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--dataset", args->spec.dataset, "Dataset name in the feature store, e.g. dtd")->required();
  command->add_option("--method", args->spec.method, "coop | zeroshot")->default_val("coop");
  command->add_option("--protocol", args->spec.protocol,
                      "fewshot (all classes) | base2novel (train on the base half, test on base and novel)")
      ->default_val("fewshot");
  command->add_option("--shots", args->spec.shots, "Training images per class (CoOp)")->default_val(16);
  command->add_option("--seed", args->spec.seed,
                      "Seed of the few-shot sample, context init and batch order (0 to 2^63 - 1)")
      ->default_val(1);
  command->add_option("--n-ctx", args->spec.coop.n_ctx, "Number of context vectors (ignored with --ctx-init)")
      ->capture_default_str();
  command->add_option("--ctx-init", args->spec.coop.ctx_init,
                      "Initialise the context from these words, e.g. \"a photo of a\" (default: random N(0, 0.02))");
  command->add_flag("--csc", args->spec.coop.class_specific, "Class-specific context (one per class)");
  command->add_option("--class-token-position", args->spec.coop.class_token_position, "end | middle | front")
      ->capture_default_str();
  command->add_option("--epochs", args->spec.coop.epochs,
                      "Epochs (default: CoOp's: 50 for 1 shot, 100 for 2-4, 200 for 8+; ImageNet 50)")
      ->default_val(0);
  command->add_option("--batch-size", args->spec.coop.batch_size, "Batch size")->capture_default_str();
  command->add_option("--lr", args->spec.coop.lr, "Base learning rate of SGD")->capture_default_str();
  command->add_option("--precision", args->spec.coop.precision,
                      "Text-encoder precision: fp32 | fp16 (CUDA only) | bf16")
      ->capture_default_str();
  command->add_option("--clip", args->runner.checkpoint_path, "CLIP checkpoint: OpenAI .pt archive or safetensors")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--bpe", args->runner.vocab_path, "CLIP BPE vocabulary (bpe_simple_vocab_16e6.txt.gz)")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("--out", args->out_dir, "Folder for the result record and learned prompt")->required();
  command->add_option("--device", args->runner.device, "cpu | cuda | cuda:N")->default_val("cpu");
  command->add_flag("--rerun", args->rerun,
                    "Run the task even if its finished record exists (a failed rerun never replaces it)");
  add_threads_option(*command, args->threads);
  command->callback([args] {
    set_torch_threads(args->threads);
    TaskRunner runner(args->runner);
    const sweeps::TaskSpec spec = runner.prepare(args->spec);
    nlohmann::json record;
    if (!args->rerun) {
      if (auto finished = find_finished_record(args->out_dir, spec.id(), spec.to_json())) {
        record = *finished;
        record["reused"] = true;
      }
    }
    if (record.is_null()) record = save_result_files(args->out_dir, runner.run(spec));
    const std::string record_path = args->out_dir + "/" + record["task_id"].get<std::string>() + ".json";
    if (record["status"] != "ok") {
      throw Error("task " + record["task_id"].get<std::string>() + " failed: " + record["error"].get<std::string>() +
                  " (record: " + record_path + ")");
    }
    std::cout << "task " << record["task_id"].get<std::string>() << " " << record["spec"]["method"].get<std::string>()
              << " " << record["spec"]["dataset"].get<std::string>();
    for (const auto& [name, value] : record["metrics"].items()) std::cout << " " << name << "=" << value.get<double>();
    std::cout << "\nrecord: " << record_path << std::endl;
    if (record.value("reused", false)) {
      std::cout << "(finished before with the same spec and inputs; --rerun runs it again)" << std::endl;
    }
    for (const auto& warning : record.value("warnings", nlohmann::json::array())) {
      std::cerr << "promptgrid: warning: " << warning.get<std::string>() << std::endl;
    }
  });
}

}  // namespace pg::orchestrator
