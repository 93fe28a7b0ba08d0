#include <ostream>

#include "app.hpp"
#include "commands.hpp"
#include "completion.hpp"
#include "exit_codes.hpp"

namespace gpuorch::cli {
namespace {

struct CompletionOptions {
  std::string shell;
};

int run_completion(Context& ctx, const CompletionOptions& opts) {
  ctx.io.out << completion_script(opts.shell);
  return k_exit_ok;
}

}  // namespace

void setup_completion(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<CompletionOptions>();
  auto* cmd = root.add_subcommand("completion", "Print the shell completion script for bash, zsh or fish");
  cmd->add_option("shell", opts->shell, "The shell to print the script for")
      ->required()
      ->type_name("SHELL")
      ->check(CLI::IsMember({"bash", "zsh", "fish"}));
  cmd->callback([&ctx, opts] { ctx.run = [&ctx, opts] { return run_completion(ctx, *opts); }; });
}

int run_complete_command(Context& ctx, std::vector<std::string> words) {
  auto app = build_app(ctx);
  if (words.empty()) {
    words.emplace_back();
  }
  auto completions = complete(ctx, *app, words);
  if (ctx.cobra_completion_directives) {
    completions = to_cobra_directives(std::move(completions));
  }
  write_completions(ctx.io.out, completions);
  return k_exit_ok;
}

}  // namespace gpuorch::cli
