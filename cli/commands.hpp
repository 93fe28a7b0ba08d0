#pragma once

#include <span>
#include <string_view>

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

void setup_version(CLI::App& root, Context& ctx);

}  // namespace gpuorch::cli
