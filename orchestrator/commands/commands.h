// The promptgrid subcommands. Each lives in its own file and adds itself to the CLI11 app; its
// callback throws pg::Error for user mistakes (the CLI prints it and exits with code 2).
#pragma once

namespace CLI {
class App;
}

namespace pg::orchestrator {

// Thrown by a command's callback to end with `code` once it has said what it had to (a sweep stopped
// by a signal ends with 128 + the signal's number).
struct CommandExit {
  int code;
};

void add_tokenize_command(CLI::App& app);
void add_encode_text_command(CLI::App& app);
void add_features_command(CLI::App& app);
void add_features_extract_command(CLI::App& features);  // `features extract`, added by add_features_command
void add_fewshot_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_synth_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_run_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_table_command(CLI::App& app);
void add_status_command(CLI::App& app);
void add_slurm_command(CLI::App& app);

}  // namespace pg::orchestrator
