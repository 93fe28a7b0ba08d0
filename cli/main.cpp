#include <cstdio>
#include <cstdlib>
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
  std::cerr.flush();
  gpuorch::cli::remove_signal_handlers();
#if defined(__SANITIZE_ADDRESS__)
  return code;  // LeakSanitizer checks at exit: let it run
#else
  // Everything the command wrote is flushed; skip the static destructors and OpenSSL's
  // exit-time cleanup, which only free memory the kernel reclaims anyway (measurable in
  // a short command such as `gpuorch submit`).
  std::fflush(nullptr);
  std::_Exit(code);
#endif
}
