#include <iterator>
#include <memory>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gpuorch/model/manifest.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"

namespace gpuorch::cli {
namespace {

struct ValidateOptions {
  std::vector<std::string> filenames;
  std::vector<std::string> arguments;  // FILE arguments without -f, as in `gpuorch validate examples/`
  std::string output;
};

nlohmann::json result_json(const model::ManifestResult& r) {
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& cause : r.causes) {
    nlohmann::json e = {{"message", cause.message}};
    if (!cause.location.empty()) {
      e["location"] = cause.location;
    }
    if (!cause.field.empty()) {
      e["field"] = cause.field;
    }
    if (!cause.reason.empty()) {
      e["reason"] = cause.reason;
    }
    errors.push_back(std::move(e));
  }
  nlohmann::json j = {{"source", r.source}, {"valid", r.valid()}, {"errors", std::move(errors)}};
  if (!r.input_error) {
    j["document"] = r.index;
  }
  if (r.start.line != 0) {
    j["line"] = r.start.line;
    j["column"] = r.start.column;
  }
  if (!r.kind.empty()) {
    j["kind"] = r.kind;
  }
  if (!r.name.empty()) {
    j["name"] = r.name;
  }
  return j;
}

int run_validate(Context& ctx, const ValidateOptions& opts) {
  const auto read_stdin = [&ctx]() -> Result<std::string> {
    std::ostringstream text;
    text << ctx.io.in.rdbuf();
    return text.str();
  };
  std::vector<std::string> paths = opts.filenames;
  paths.insert(paths.end(), opts.arguments.begin(), opts.arguments.end());
  if (paths.empty()) {
    ctx.io.err << "error: must specify -f FILE (a file, a directory, or - for standard input)\n"
               << "Run '" << ctx.program_name << " validate --help' for usage.\n";
    return k_exit_usage;
  }
  const auto inputs = model::read_manifest_inputs(paths, model::local_file_system(), read_stdin);
  const auto results = model::validate_manifest_inputs(inputs);
  bool all_valid = true;
  for (const auto& r : results) {
    all_valid = all_valid && r.valid();
  }

  if (opts.output == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : results) {
      list.push_back(result_json(r));
    }
    ctx.io.out << nlohmann::json{{"valid", all_valid}, {"results", std::move(list)}}.dump(
                      4, ' ', false, nlohmann::json::error_handler_t::replace)
               << '\n';
    return all_valid ? k_exit_ok : k_exit_usage;
  }

  for (const auto& r : results) {
    if (r.input_error) {
      for (const auto& cause : r.causes) {
        ctx.io.err << "error: " << cause.message << '\n';
      }
    } else if (r.valid()) {
      // One line per object; in a multi-object file the object's position tells them apart.
      if (r.documents_in_source > 1) {
        ctx.io.out << fmt::format("{}:{}:{}: valid\n", r.source, r.start.line, r.start.column);
      } else {
        ctx.io.out << r.source << ": valid\n";
      }
    } else {
      for (const auto& cause : r.causes) {
        ctx.io.err << cause.to_string() << '\n';
      }
    }
  }
  return all_valid ? k_exit_ok : k_exit_usage;
}

}  // namespace

void setup_validate(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<ValidateOptions>();
  auto* cmd = root.add_subcommand("validate", "Check GPUWorkload manifests offline against the CRD's schema");
  cmd->add_option("-f,--filename", opts->filenames,
                  "Manifest file, directory of *.yaml/*.yml/*.json, or - for stdin (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_option("FILE", opts->arguments, "Same as -f FILE")->type_name("FILE");
  cmd->add_option("-o,--output", opts->output, "Output format")->type_name("FORMAT")->check(CLI::IsMember({"json"}));
  cmd->callback([&ctx, opts] { ctx.run = [&ctx, opts] { return run_validate(ctx, *opts); }; });
}

}  // namespace gpuorch::cli
