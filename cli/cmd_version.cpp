#include <ostream>

#include <gpuorch/version.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"

namespace gpuorch::cli {
namespace {

struct VersionOptions {
  std::string output;
};

int run_version(Context& ctx, const VersionOptions& opts) {
  if (opts.output == "json" || opts.output == "yaml") {
    const nlohmann::json info = {
        {"gitVersion", std::string("v") + build_info::k_version},
        {"gitCommit", build_info::k_git_commit},
        {"compiler", build_info::k_compiler},
        {"buildType", build_info::k_build_type},
    };
    if (opts.output == "json") {
      ctx.io.out << info.dump(4) << '\n';
    } else {
      for (const auto& [key, value] : info.items()) {
        ctx.io.out << key << ": " << value.get<std::string>() << '\n';
      }
    }
    return k_exit_ok;
  }
  ctx.io.out << "gpuorch v" << build_info::k_version << " (commit " << build_info::k_git_commit << ")\n";
  return k_exit_ok;
}

}  // namespace

void setup_version(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<VersionOptions>();
  auto* cmd = root.add_subcommand("version", "Print the gpuorch version");
  cmd->add_option("-o,--output", opts->output, "Output format")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"json", "yaml"}));
  cmd->callback([&ctx, opts] { ctx.run = [&ctx, opts] { return run_version(ctx, *opts); }; });
}

}  // namespace gpuorch::cli
