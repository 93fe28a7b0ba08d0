#pragma once

#include <string>
#include <string_view>

#include <gpuorch/base/result.hpp>
#include <gpuorch/obs/metrics.hpp>

namespace gpuorch::obs {

/// Writes `content` to `path` atomically, for node_exporter's textfile
/// collector: the text goes to a temporary file in the same directory (named
/// `<file>.<random>`, so the collector, which reads only `*.prom`, never sees a
/// half-written file), is flushed with fsync, made world-readable (0644), and
/// renamed over `path`; the directory is fsynced too, so the rename survives a
/// crash. On failure the temporary file is removed and the error
/// (ErrorCode::io) names the path.
Status write_file_atomically(const std::string& path, std::string_view content);

/// Writes the registry's exposition to `path` with write_file_atomically().
Status write_textfile(const std::string& path, const Registry& registry);

}  // namespace gpuorch::obs
