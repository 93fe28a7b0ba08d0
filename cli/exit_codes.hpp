#pragma once

#include <iosfwd>

#include <gpuorch/base/error.hpp>

namespace gpuorch::cli {

/// The documented exit codes (man gpuorch, EXIT STATUS).
enum ExitCode : int {
  k_exit_ok = 0,
  k_exit_error = 1,            ///< cluster, API or operational failure
  k_exit_usage = 2,            ///< usage error or invalid input
  k_exit_workload_failed = 3,  ///< --wait saw the workload fail; simulate found unschedulable work
  k_exit_timeout = 4,          ///< --wait or --timeout ran out
  k_exit_interrupted = 130,    ///< SIGINT
  k_exit_terminated = 143,     ///< SIGTERM
};

/// The one mapping from error categories to exit codes.
int exit_code_for(const Error& error);

/// Prints an error the way kubectl does: `Error from server (Reason): message`
/// for API errors, `error: message` otherwise, then one line per field cause.
void print_error(std::ostream& err, const Error& error);

}  // namespace gpuorch::cli
