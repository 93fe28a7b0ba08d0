#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "context.hpp"

namespace gpuorch::cli {

/// The hidden command the shell scripts call: `gpuorch __complete WORD... CURRENT`.
inline constexpr std::string_view k_complete_command = "__complete";

/// What the shell should do besides offering the candidates. A bit set, printed
/// as the last line of `__complete` output (`:6`). The scripts in completions/
/// interpret it; keep both in step (docs/development.md, "Completions").
enum CompletionDirective : unsigned {
  k_complete_default = 0,   ///< offer the candidates, add a space after a unique match
  k_complete_error = 1,     ///< something went wrong: offer nothing
  k_complete_no_space = 2,  ///< do not add a space after the completed word (e.g. `--output=`)
  k_complete_files = 4,     ///< complete file names (the candidates, if any, are ignored)
  k_complete_dirs = 8,      ///< complete directory names only
};

struct Candidate {
  std::string value;
  std::string description;  ///< one line; shown by zsh and fish, ignored by bash
  friend bool operator==(const Candidate&, const Candidate&) = default;
};

struct Completions {
  std::vector<Candidate> candidates;
  unsigned directive = k_complete_default;
};

/// Produces the values of one flag or positional argument. Called with the
/// context after the flags already on the command line were applied (so a
/// namespace completer sees --kubeconfig, --context, -n) and the word being
/// completed; the engine filters the candidates by that prefix afterwards.
using Completer = std::function<Completions(Context& ctx, std::string_view prefix)>;

/// Registers a dynamic completer for a flag or positional argument of the CLI
/// definition. Call it from a command's setup function, e.g.
///   register_completer(ctx, cmd->add_option("--strategy", ...), strategy_names);
/// A registered completer takes precedence over the IsMember choices and over
/// the file completion that a FILE type name implies.
void register_completer(Context& ctx, const CLI::Option* option, Completer completer);

/// A completer offering fixed values (each "value" or "value\tdescription").
Completer fixed_completer(std::vector<Candidate> candidates);

/// Computes the completions for `words`: the words after the program name,
/// the last one being the (possibly empty) word under the cursor. `app` is the
/// tree built by build_app(ctx), not yet parsed.
Completions complete(Context& ctx, CLI::App& app, const std::vector<std::string>& words);

/// Prints completions in the protocol the scripts read: one candidate per line
/// ("value" or "value\tdescription"), then ":<directive>".
void write_completions(std::ostream& out, const Completions& completions);

/// The same completions in the directive bits of cobra (spf13/cobra), which
/// kubectl's completion scripts read for plugins: 1 error, 2 no space,
/// 4 no file completion, 16 directories only. File completion is cobra's
/// default (no candidates, no bit), so candidates are offered without it.
Completions to_cobra_directives(Completions completions);

/// The script `gpuorch completion <shell>` prints; empty for an unknown shell.
std::string_view completion_script(std::string_view shell);

}  // namespace gpuorch::cli
