// `promptgrid table DIR`: the tables of a sweep's output folder, from its journal.
#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "common/error.h"
#include "common/files.h"
#include "orchestrator/commands/commands.h"
#include "results/sweep_tables.h"

namespace pg::orchestrator {

void add_table_command(CLI::App& app) {
  auto out_dir = std::make_shared<std::string>();
  auto options = std::make_shared<results::SweepTablesOptions>();
  auto select_by = std::make_shared<std::string>("none");
  auto* command = app.add_subcommand(
      "table", "Write a sweep's tables (DIR/tables/{fewshot,base2novel,sweep}.{md,csv,tex}) and few-shot plots "
               "(DIR/plots) from its journal and print them; works while the sweep runs too.");
  command->add_option("dir", *out_dir, "The sweep's output folder (run --out)")->required();
  command->add_option("--select-by", *select_by,
                      "val: per dataset and shots, report the setting with the best mean validation accuracy "
                      "(and say which); none: every setting its own column")
      ->check(CLI::IsMember({"none", "val"}))
      ->default_val("none");
  command->callback([out_dir, options, select_by] {
    options->select_by_val = *select_by == "val";
    if (results::sweep_journal_folders(*out_dir).empty()) {
      throw Error(*out_dir + ": has no journal.jsonl; give the folder a `promptgrid run --out` wrote");
    }
    const std::string tables = results::write_sweep_tables(*out_dir, *options);
    std::cout << (tables.empty() ? "no finished tasks yet\n" : tables);
  });
}

}  // namespace pg::orchestrator
