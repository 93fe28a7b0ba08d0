#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "context.hpp"

namespace gpuorch::cli {

/// Builds the complete command tree: global flags plus every command of the
/// table. Completions, man-page checks and main() all use this one definition.
std::unique_ptr<CLI::App> build_app(Context& ctx);

/// Parses `args` (without argv[0]) and runs the selected command; returns the
/// process exit code. Everything the user sees goes through ctx.io.
int run_cli(Context& ctx, std::vector<std::string> args);

}  // namespace gpuorch::cli
