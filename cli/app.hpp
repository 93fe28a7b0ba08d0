#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "context.hpp"

namespace gpuorch::cli {

/// Builds the complete command tree: global flags plus every command of the
/// table. Completions, man-page checks and main() all use this one definition.
/// With `only_command`, the tree has that one command of the table (what
/// run_cli does when the arguments name it: a short command such as `submit`
/// need not pay for setting up the flags of all the others).
std::unique_ptr<CLI::App> build_app(Context& ctx, std::string_view only_command = {});

/// The command of the table that `args` (without argv[0]) select, found
/// without parsing them: the first word that is neither a flag nor the value
/// of a global flag. Empty when that is not certain (no command, an unknown
/// word, "--", --help-all), in which case the whole tree is needed.
std::string_view command_named_by(const CLI::App& globals, const std::vector<std::string>& args);

/// Parses `args` (without argv[0]) and runs the selected command; returns the
/// process exit code. Everything the user sees goes through ctx.io.
int run_cli(Context& ctx, std::vector<std::string> args);

}  // namespace gpuorch::cli
