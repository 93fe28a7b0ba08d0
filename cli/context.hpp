#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>

#include <gpuorch/base/cancel.hpp>

namespace gpuorch::cli {

class CompletionRegistry;

/// The kubectl-style connection flags, bound once on the root command and read
/// by every command that talks to a cluster.
struct GlobalOptions {
  std::string kubeconfig;
  std::string context;
  std::string cluster;
  std::string user;
  std::string namespace_name;
  std::string server;
  std::string token;
  std::string certificate_authority;
  std::string client_certificate;
  std::string client_key;
  std::string tls_server_name;
  bool insecure_skip_tls_verify = false;
  std::string request_timeout = "0";
  bool in_cluster = false;
  int verbosity = 0;
  std::string log_format = "text";
};

/// Where a command reads and writes. Tests pass string streams.
struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

/// State shared between the flag parser and the selected command. Each
/// command's setup function binds its flags and stores the work to do in
/// `run`; main() calls it after parsing succeeded.
struct Context {
  explicit Context(Io streams) : io(streams) {}

  Io io;
  GlobalOptions global;
  /// The name the program was invoked as ("gpuorch" or "kubectl gpuorch").
  std::string program_name = "gpuorch";
  std::function<int()> run;
  /// Cancelled by SIGINT/SIGTERM (cli/signals.hpp, installed by main()).
  /// Long-running commands pass it to the library loops they start; when it
  /// was cancelled by a signal the CLI exits 128 + signal (130, 143).
  CancelToken cancel;
  /// Set by commands that poll `cancel` (in their setup callback). For every
  /// other command the first SIGINT/SIGTERM ends the process at once with
  /// 130/143 instead of waiting for a poll that never comes.
  bool cooperative_cancel = false;
  /// Set by a command whose normal way to end is a signal (a controller loop
  /// told to stop by SIGTERM drains and exits 0): its own exit code stands.
  bool signal_ends_normally = false;
  /// Dynamic completers registered by the commands (completion.hpp).
  std::shared_ptr<CompletionRegistry> completers;
  /// `__complete` answers with cobra's directive bits (kubectl's plugin
  /// completion reads them) instead of gpuorch's own.
  bool cobra_completion_directives = false;
};

}  // namespace gpuorch::cli
