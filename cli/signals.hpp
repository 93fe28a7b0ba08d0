#pragma once

#include <optional>

#include <gpuorch/base/cancel.hpp>

namespace gpuorch::cli {

/// Installs SIGINT and SIGTERM handlers that cancel `token` (reason = the
/// signal number), so long-running commands stop at their next safe point and
/// the CLI exits 130 or 143. A second signal, or a signal while no token is
/// installed, ends the process at once with 128 + signal: a command stuck
/// where it does not poll can always be stopped with a second Ctrl-C.
/// `token` must outlive the process's use of the handlers.
void install_signal_handlers(CancelToken& token);

/// Detaches the token installed by install_signal_handlers: from now on the
/// first signal ends the process at once with 128 + signal. For commands
/// that never poll the token.
void release_signal_token();

/// Restores the default dispositions of SIGINT and SIGTERM.
void remove_signal_handlers();

/// 128 + signal when `token` was cancelled by a signal (130 for SIGINT, 143
/// for SIGTERM), nothing otherwise.
std::optional<int> signal_exit_code(const CancelToken& token);

}  // namespace gpuorch::cli
