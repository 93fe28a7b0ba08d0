#include <memory>
#include <ostream>
#include <string>

#include <gpuorch/model/crd.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"

namespace gpuorch::cli {
namespace {

struct CrdOptions {
  std::string output = "yaml";
};

int run_crd(Context& ctx, const CrdOptions& opts) {
  if (opts.output == "json") {
    ctx.io.out << model::workload_crd().dump(4, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  } else {
    ctx.io.out << model::workload_crd_yaml();
  }
  return k_exit_ok;
}

}  // namespace

void setup_crd(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<CrdOptions>();
  auto* cmd = root.add_subcommand("crd", "Print the GPUWorkload CustomResourceDefinition");
  cmd->add_option("-o,--output", opts->output, "Output format (default yaml)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"yaml", "json"}));
  cmd->callback([&ctx, opts] { ctx.run = [&ctx, opts] { return run_crd(ctx, *opts); }; });
}

}  // namespace gpuorch::cli
