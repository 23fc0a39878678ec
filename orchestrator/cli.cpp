#include "orchestrator/cli.h"

#include <c10/util/Exception.h>

#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/strings.h"
#include "common/utf8.h"
#include "orchestrator/commands/commands.h"
#include "orchestrator/error_text.h"

namespace pg::orchestrator {
namespace {

// Every argument is text promptgrid may print, put in a JSON record or tokenize: it must be UTF-8.
void check_arguments_are_utf8(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    require_utf8(argv[i], "argument " + std::to_string(i),
                 "pass names, paths and prompts as UTF-8 (rename a file whose name is not)");
  }
}

// "eval" where a command is expected: CLI11 would report "A subcommand is required"; name the word and
// list the commands instead. Returns the subcommand chain the arguments name ("features import").
std::string check_commands(CLI::App& app, int argc, char** argv) {
  CLI::App* current = &app;
  std::string chain;
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (starts_with(word, "-")) break;
    CLI::App* next = nullptr;
    for (CLI::App* sub : current->get_subcommands({})) {
      if (sub->get_name() == word) next = sub;
    }
    if (next == nullptr) {
      if (current->get_require_subcommand_min() == 0) break;  // a positional argument of `current`
      std::vector<std::string> names;
      for (CLI::App* sub : current->get_subcommands({})) names.push_back(sub->get_name());
      const std::string prefix = chain.empty() ? "promptgrid" : "promptgrid " + chain;
      throw Error("'" + word + "' is not a command of " + prefix + "; the commands are: " + join(names, ", ") +
                  " (see '" + prefix + " --help')");
    }
    chain += (chain.empty() ? "" : " ") + word;
    current = next;
  }
  return chain;
}

int report(const std::string& message, int code) {
  std::cerr << "promptgrid: " << (code == 2 ? "error: " : "internal error (please report it): ") << message
            << std::endl;
  return code;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"promptgrid: the CLIP prompt-learning benchmark (CoOp, CoCoOp, baselines) at scale"};
  app.require_subcommand(1);
  add_synth_command(app);
  add_train_command(app);
  add_features_command(app);
  add_fewshot_command(app);
  add_tokenize_command(app);
  add_encode_text_command(app);
  add_bench_command(app);
  add_run_command(app);
  add_plan_command(app);
  add_table_command(app);
  add_status_command(app);
  add_slurm_command(app);
  std::string chain;
  try {
    check_arguments_are_utf8(argc, argv);
    chain = check_commands(app, argc, argv);
    app.parse(argc, argv);
  } catch (const CommandExit& e) {
    return e.code;
  } catch (const CLI::Success& e) {
    return app.exit(e);  // --help: the help text on stdout, exit code 0
  } catch (const CLI::ParseError& e) {
    const std::string command = chain.empty() ? "promptgrid" : "promptgrid " + chain;
    return report(std::string(e.what()) + " (see '" + command + " --help')", 2);
  } catch (const Error& e) {
    return report(e.what(), 2);
  } catch (const std::bad_alloc&) {
    return report("out of memory; make the job smaller (fewer classes, a smaller batch or model) or run it on "
                  "a machine with more memory",
                  2);
  } catch (const c10::Error& e) {
    // LibTorch's own message, without the C++ backtrace it carries.
    const std::string message = error_text(e);
    return report(message, is_out_of_memory(message) ? 2 : 1);
  } catch (const std::exception& e) {
    return report(error_text(e), 1);
  }
  return 0;
}

}  // namespace pg::orchestrator
