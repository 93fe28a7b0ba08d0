#include <iostream>
#include <string>
#include <vector>

#include "app.hpp"
#include "completion.hpp"
#include "program_name.hpp"
#include "signals.hpp"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  gpuorch::cli::Context ctx(gpuorch::cli::Io{std::cin, std::cout, std::cerr});
  ctx.program_name = gpuorch::cli::program_name_for(argc > 0 ? argv[0] : "gpuorch");
  gpuorch::cli::install_signal_handlers(ctx.cancel);
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  if (argc > 0 && gpuorch::cli::is_kubectl_plugin_completion(argv[0])) {
    args.insert(args.begin(), std::string(gpuorch::cli::k_complete_command));
    ctx.cobra_completion_directives = true;
  }
  const int code = gpuorch::cli::run_cli(ctx, std::move(args));
  std::cout.flush();
  gpuorch::cli::remove_signal_handlers();
  return code;
}
