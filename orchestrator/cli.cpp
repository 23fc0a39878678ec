#include "orchestrator/cli.h"

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>

#include "common/error.h"
#include "orchestrator/commands/commands.h"

namespace pg::orchestrator {

int run_cli(int argc, char** argv) {
  CLI::App app{"promptgrid: the CLIP prompt-learning benchmark (CoOp, CoCoOp, baselines) at scale"};
  app.require_subcommand(1);
  add_demo_command(app);
  add_synth_command(app);
  add_train_command(app);
  add_features_command(app);
  add_fewshot_command(app);
  add_tokenize_command(app);
  add_encode_text_command(app);
  add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const Error& e) {
    std::cerr << "promptgrid: error: " << e.what() << std::endl;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "promptgrid: internal error (please report it): " << e.what() << std::endl;
    return 1;
  }
  return 0;
}

}  // namespace pg::orchestrator
