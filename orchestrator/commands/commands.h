// The promptgrid subcommands. Each lives in its own file and adds itself to the CLI11 app; its
// callback throws pg::Error for user mistakes (the CLI prints it and exits with code 2).
#pragma once

namespace CLI {
class App;
}

namespace pg::orchestrator {

void add_tokenize_command(CLI::App& app);
void add_encode_text_command(CLI::App& app);
void add_features_command(CLI::App& app);
void add_fewshot_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_bench_command(CLI::App& app);

}  // namespace pg::orchestrator
