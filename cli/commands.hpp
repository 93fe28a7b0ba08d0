#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "context.hpp"

namespace gpuorch::cli {

/// One subcommand: its name and the function that adds it to the root app,
/// binds its flags and, when selected, sets Context::run. Subcommands are a
/// table of data (commands.cpp), one file each (cmd_<name>.cpp).
struct CommandSpec {
  std::string_view name;
  void (*setup)(CLI::App& root, Context& ctx);
};

/// All subcommands, in the order `gpuorch --help` lists them.
std::span<const CommandSpec> command_table();

void setup_sandbox(CLI::App& root, Context& ctx);
void setup_version(CLI::App& root, Context& ctx);
void setup_validate(CLI::App& root, Context& ctx);
void setup_crd(CLI::App& root, Context& ctx);
void setup_simulate(CLI::App& root, Context& ctx);
void setup_get(CLI::App& root, Context& ctx);
void setup_submit(CLI::App& root, Context& ctx);
void setup_delete(CLI::App& root, Context& ctx);
void setup_describe(CLI::App& root, Context& ctx);
void setup_completion(CLI::App& root, Context& ctx);
void setup_reconcile(CLI::App& root, Context& ctx);
void setup_install(CLI::App& root, Context& ctx);
void setup_uninstall(CLI::App& root, Context& ctx);

/// The hidden `gpuorch __complete WORD...` the completion scripts call
/// (cmd_completion.cpp). It runs before flag parsing, so that the words being
/// completed are never interpreted as flags of gpuorch itself.
int run_complete_command(Context& ctx, std::vector<std::string> words);

}  // namespace gpuorch::cli
