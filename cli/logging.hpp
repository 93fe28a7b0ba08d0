#pragma once

#include <iosfwd>
#include <string>

#include <gpuorch/base/result.hpp>

namespace gpuorch::cli {

/// Replaces spdlog's default logger (which writes to stdout) with one that
/// writes to `err` only: stdout is data, stderr is diagnostics.
/// Verbosity follows kubectl's -v: 0 info, 4 debug, 6 and above trace
/// (request logs). `format` is "text" or "json" (one JSON object per line).
Status setup_logging(int verbosity, const std::string& format, std::ostream& err);

}  // namespace gpuorch::cli
