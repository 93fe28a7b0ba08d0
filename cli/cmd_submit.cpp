#include <cstdint>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/rest_config.hpp>
#include <gpuorch/model/manifest.hpp>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/model/yaml.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "kube_connect.hpp"
#include "workload_io.hpp"
#include "workload_wait.hpp"

namespace gpuorch::cli {
namespace {

using nlohmann::json;

struct SubmitOptions {
  std::vector<std::string> filenames;
  std::string name;
  std::string generate_name;
  std::string model;
  std::int64_t gpus = 0;
  std::int64_t priority = 0;
  std::string strategy;
  std::string image;
  std::string gpu_type;
  std::string cpu;
  std::string memory;
  std::vector<std::string> env;
  std::vector<std::string> labels;
  std::vector<std::string> node_selector;
  std::int64_t retries = 0;
  std::int64_t backoff = 0;
  std::int64_t max_backoff = 0;
  std::vector<std::string> command;
  std::string dry_run = "none";
  std::string output;
  std::string wait;
  std::string timeout = "0";
  std::string field_manager = "gpuorch";
  bool show_managed_fields = false;
  const CLI::Option* dry_run_flag = nullptr;
  const CLI::Option* wait_flag = nullptr;

  // Which of the spec flags were given (CLI11 counts them).
  std::map<std::string, const CLI::Option*> spec_flags;
  [[nodiscard]] bool given(const std::string& flag) const {
    auto it = spec_flags.find(flag);
    return it != spec_flags.end() && it->second->count() > 0;
  }
  [[nodiscard]] std::vector<std::string> given_spec_flags() const {
    std::vector<std::string> out;
    for (const auto& [flag, option] : spec_flags) {
      if (option->count() > 0) {
        out.push_back(flag);
      }
    }
    return out;
  }
};

/// The flag that sets a field, so that a validation message points at what
/// the user typed.
std::string flag_for_field(const std::string& field) {
  static const std::vector<std::pair<std::string, std::string>> k_fields = {
      {"metadata.generateName", "--generate-name"},
      {"metadata.name", "--name"},
      {"metadata.labels", "--label"},
      {"spec.modelName", "--model"},
      {"spec.gpuCount", "--gpus"},
      {"spec.priority", "--priority"},
      {"spec.schedulingStrategy", "--strategy"},
      {"spec.retryPolicy.maxRetries", "--retries"},
      {"spec.retryPolicy.backoffSeconds", "--backoff"},
      {"spec.retryPolicy.maxBackoffSeconds", "--max-backoff"},
      {"spec.image", "--image"},
      {"spec.gpuType", "--gpu-type"},
      {"spec.resources.cpu", "--cpu"},
      {"spec.resources.memory", "--memory"},
      {"spec.env", "--env"},
      {"spec.nodeSelector", "--node-selector"},
      {"spec.command", "COMMAND"},
  };
  for (const auto& [prefix, flag] : k_fields) {
    if (field.rfind(prefix, 0) == 0) {
      return flag;
    }
  }
  return {};
}

/// "KEY=VALUE" -> (KEY, VALUE); a usage error names the flag otherwise.
Result<std::pair<std::string, std::string>> split_assignment(const std::string& flag, const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return Error(ErrorCode::usage, flag + ": expected KEY=VALUE, got \"" + text + "\"");
  }
  return std::pair{text.substr(0, eq), text.substr(eq + 1)};
}

/// The GPUWorkload the flags describe; only given fields are set, the API
/// server's defaulting fills in the rest.
Result<json> workload_from_flags(const SubmitOptions& opts) {
  json metadata = json::object();
  if (!opts.name.empty()) {
    metadata["name"] = opts.name;
  }
  if (!opts.generate_name.empty()) {
    metadata["generateName"] = opts.generate_name;
  }
  for (const auto& label : opts.labels) {
    GPUORCH_ASSIGN_OR_RETURN(auto kv, split_assignment("--label", label));
    metadata["labels"][kv.first] = kv.second;
  }
  json spec = json::object();
  if (opts.given("--model")) {
    spec["modelName"] = opts.model;
  }
  if (opts.given("--gpus")) {
    spec["gpuCount"] = opts.gpus;
  }
  if (opts.given("--priority")) {
    spec["priority"] = opts.priority;
  }
  if (opts.given("--strategy")) {
    spec["schedulingStrategy"] = opts.strategy;
  }
  if (opts.given("--retries")) {
    spec["retryPolicy"]["maxRetries"] = opts.retries;
  }
  if (opts.given("--backoff")) {
    spec["retryPolicy"]["backoffSeconds"] = opts.backoff;
  }
  if (opts.given("--max-backoff")) {
    spec["retryPolicy"]["maxBackoffSeconds"] = opts.max_backoff;
  }
  if (opts.given("--image")) {
    spec["image"] = opts.image;
  }
  if (!opts.command.empty()) {
    spec["command"] = opts.command;
  }
  for (const auto& var : opts.env) {
    GPUORCH_ASSIGN_OR_RETURN(auto kv, split_assignment("--env", var));
    spec["env"].push_back({{"name", kv.first}, {"value", kv.second}});
  }
  if (opts.given("--cpu")) {
    spec["resources"]["cpu"] = opts.cpu;
  }
  if (opts.given("--memory")) {
    spec["resources"]["memory"] = opts.memory;
  }
  if (opts.given("--gpu-type")) {
    spec["gpuType"] = opts.gpu_type;
  }
  for (const auto& selector : opts.node_selector) {
    GPUORCH_ASSIGN_OR_RETURN(auto kv, split_assignment("--node-selector", selector));
    spec["nodeSelector"][kv.first] = kv.second;
  }
  return json{{"apiVersion", model::k_api_version},
              {"kind", model::k_workload_kind},
              {"metadata", std::move(metadata)},
              {"spec", std::move(spec)}};
}

int usage_error(Context& ctx, const std::string& message) {
  ctx.io.err << "error: " << message << "\nRun '" << ctx.program_name << " submit --help' for usage.\n";
  return k_exit_usage;
}

/// Collects the workloads to create, validated; prints every problem and
/// returns nullopt when any input is invalid (nothing is sent then).
std::optional<std::vector<json>> collect_workloads(Context& ctx, const SubmitOptions& opts, int& code) {
  std::vector<json> out;
  if (opts.filenames.empty()) {
    auto document = workload_from_flags(opts);
    if (!document) {
      code = usage_error(ctx, document.error().message());
      return std::nullopt;
    }
    const auto causes = model::validate_workload(*document);
    if (!causes.empty()) {
      for (const auto& cause : causes) {
        ctx.io.err << "error: " << cause.to_string();
        if (const auto flag = flag_for_field(cause.field); !flag.empty()) {
          ctx.io.err << " (" << flag << ")";
        }
        ctx.io.err << '\n';
      }
      code = k_exit_usage;
      return std::nullopt;
    }
    out.push_back(std::move(document).value());
    return out;
  }

  bool valid = true;
  const bool read =
      for_each_manifest_document(ctx, opts.filenames, [&](const model::ManifestDocument& document, std::size_t count) {
        const auto result = model::validate_manifest(document, count);
        for (const auto& cause : result.causes) {
          ctx.io.err << cause.to_string() << '\n';
        }
        valid = valid && result.valid();
        out.push_back(document.value);
      });
  valid = valid && read;
  if (!valid) {
    code = k_exit_usage;
    return std::nullopt;
  }
  if (out.empty()) {
    ctx.io.err << "error: no objects passed to submit\n";
    code = k_exit_usage;
    return std::nullopt;
  }
  return out;
}

int run_submit(Context& ctx, const SubmitOptions& opts) {
  if (!opts.filenames.empty()) {
    if (const auto flags = opts.given_spec_flags(); !flags.empty()) {
      return usage_error(ctx, flags.front() + " cannot be combined with -f: put the fields in the manifest");
    }
  } else if (opts.given_spec_flags().empty()) {
    return usage_error(ctx, "must specify -f FILE, or the workload as flags (--name, --model, --gpus, ...)");
  }
  const bool waiting = !opts.wait.empty();
  if (waiting && opts.dry_run != "none") {
    return usage_error(ctx, "--wait cannot be used with --dry-run");
  }
  std::chrono::milliseconds timeout{0};
  if (auto parsed = kube::parse_request_timeout(opts.timeout); parsed) {
    timeout = *parsed;
  } else {
    return usage_error(ctx, "--timeout: " + parsed.error().message());
  }

  int code = k_exit_ok;
  auto workloads = collect_workloads(ctx, opts, code);
  if (!workloads) {
    return code;
  }

  // Client-side dry runs need the configuration only for the namespace.
  std::shared_ptr<kube::Client> client;
  std::string default_ns = ctx.global.namespace_name.empty() ? "default" : ctx.global.namespace_name;
  if (auto connected = connect(ctx); connected) {
    client = std::move(connected).value();
    default_ns = client->config().namespace_name;
  } else if (opts.dry_run != "client") {
    print_error(ctx.io.err, connected.error());
    return exit_code_for(connected.error());
  }

  std::vector<json> written;
  // Objects to wait for, by namespace, and the version each wait starts from.
  WaitPlan waits;
  for (auto& workload : *workloads) {
    auto& metadata = workload["metadata"];
    std::string ns = default_ns;
    if (auto it = metadata.find("namespace");
        it != metadata.end() && it->is_string() && !it->get<std::string>().empty()) {
      const std::string own = it->get<std::string>();
      if (!ctx.global.namespace_name.empty() && own != ctx.global.namespace_name) {
        ctx.io.err << "error: the namespace from the provided object \"" << own << "\" does not match the namespace \""
                   << ctx.global.namespace_name << "\". You must pass '--namespace=" << own
                   << "' to perform this operation.\n";
        code = std::max<int>(code, k_exit_error);
        continue;
      }
      ns = own;
    }
    metadata["namespace"] = ns;

    json result;
    if (opts.dry_run == "client") {
      result = workload;
    } else {
      kube::WriteOptions write;
      write.dry_run = opts.dry_run == "server";
      write.field_manager = opts.field_manager;
      auto created = client->create(kube::resources::gpu_workloads(), ns, workload, write);
      if (!created) {
        print_error(ctx.io.err, created.error());
        code = std::max(code, exit_code_for(created.error()));
        continue;
      }
      result = std::move(created).value();
    }
    const auto& meta = result["metadata"];
    std::string name = meta.value("name", std::string());
    if (name.empty()) {
      name = meta.value("generateName", std::string());
    }
    if (opts.output.empty()) {
      ctx.io.out << object_reference(name) << " created" << dry_run_suffix(opts.dry_run) << '\n';
    } else if (opts.output == "name") {
      ctx.io.out << object_reference(name) << '\n';
    }
    if (waiting) {
      waits.add(ns, {name, meta.value("uid", std::string()), {}}, meta.value("resourceVersion", std::string()));
    }
    written.push_back(std::move(result));
  }
  if (opts.output == "json" || opts.output == "yaml") {
    print_objects(ctx.io.out, written, opts.output, written.size() == 1, opts.show_managed_fields);
  }
  ctx.io.out << std::flush;

  const int waited =
      waits.wait(ctx, *client, opts.wait == "Running" ? WaitGoal::running : WaitGoal::succeeded, timeout);
  return waited == k_exit_interrupted ? waited : std::max(code, waited);
}

}  // namespace

void setup_submit(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<SubmitOptions>();
  auto* cmd =
      root.add_subcommand("submit", "Create GPUWorkloads from flags or manifests, and optionally wait for them");
  cmd->add_option("-f,--filename", opts->filenames,
                  "Manifest file, directory of *.yaml/*.yml/*.json, or - for stdin (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto spec = [&](const std::string& flag, CLI::Option* option) { opts->spec_flags[flag] = option; };
  spec("--name", cmd->add_option("--name", opts->name, "Name of the workload")->type_name("NAME"));
  spec("--generate-name", cmd->add_option("--generate-name", opts->generate_name,
                                          "Prefix of a name the server completes with a random suffix")
                              ->type_name("PREFIX"));
  spec("--model", cmd->add_option("--model", opts->model, "Model name (spec.modelName)")->type_name("NAME"));
  spec("--gpus", cmd->add_option("--gpus", opts->gpus, "Number of GPUs (spec.gpuCount)")->type_name("N"));
  spec("--priority",
       cmd->add_option("--priority", opts->priority, "Priority; higher goes first (default 0)")->type_name("N"));
  std::vector<std::string> strategies(model::k_scheduling_strategies.begin(), model::k_scheduling_strategies.end());
  spec("--strategy", cmd->add_option("--strategy", opts->strategy, "Placement strategy (default LeastLoaded)")
                         ->type_name("NAME")
                         ->check(CLI::IsMember(strategies)));
  spec("--image", cmd->add_option("--image", opts->image, "Container image the Job runs")->type_name("IMAGE"));
  spec("--gpu-type", cmd->add_option("--gpu-type", opts->gpu_type, "GPU model prefix, e.g. H100")->type_name("TYPE"));
  spec("--cpu", cmd->add_option("--cpu", opts->cpu, "CPU request, e.g. 8 or 500m")->type_name("QUANTITY"));
  spec("--memory", cmd->add_option("--memory", opts->memory, "Memory request, e.g. 64Gi")->type_name("QUANTITY"));
  spec("--env", cmd->add_option("--env", opts->env, "Environment variable of the container (repeatable)")
                    ->type_name("KEY=VALUE")
                    ->allow_extra_args(false)
                    ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll));
  spec("--label", cmd->add_option("-l,--label", opts->labels, "Label of the workload (repeatable)")
                      ->type_name("KEY=VALUE")
                      ->allow_extra_args(false)
                      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll));
  spec("--node-selector",
       cmd->add_option("--node-selector", opts->node_selector, "Node label the workload requires (repeatable)")
           ->type_name("KEY=VALUE")
           ->allow_extra_args(false)
           ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll));
  spec("--retries",
       cmd->add_option("--retries", opts->retries, "Retries after a failed attempt (default 3)")->type_name("N"));
  spec(
      "--backoff",
      cmd->add_option("--backoff", opts->backoff, "Seconds before the first retry (default 10)")->type_name("SECONDS"));
  spec("--max-backoff",
       cmd->add_option("--max-backoff", opts->max_backoff, "Cap of the doubling retry delay in seconds (default 300)")
           ->type_name("SECONDS"));
  spec("COMMAND", cmd->add_option("COMMAND", opts->command, "Command and arguments of the container, after --")
                      ->type_name("COMMAND"));
  // --dry-run alone means client, as in kubectl; the value may follow after '=' or a space.
  opts->dry_run_flag = cmd->add_option("--dry-run", opts->dry_run,
                                       "none, client (print, send nothing; the default of --dry-run alone) or server "
                                       "(validated and defaulted by the server, not stored)")
                           ->type_name("MODE")
                           ->expected(0, 1)
                           ->check(CLI::IsMember({"none", "client", "server"}));
  cmd->add_option("-o,--output", opts->output, "Output format: name, json or yaml")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"name", "json", "yaml"}));
  opts->wait_flag = cmd->add_option("--wait", opts->wait,
                                    "Wait until the workloads reach the phase (Succeeded when alone), streaming their "
                                    "phases and Events")
                        ->type_name("PHASE")
                        ->expected(0, 1)
                        ->check(CLI::IsMember({"Running", "Succeeded"}));
  cmd->add_option("--timeout", opts->timeout, "Give up waiting after this long, e.g. 10m (0: no limit)")
      ->type_name("DURATION");
  cmd->add_option("--field-manager", opts->field_manager, "Name of the manager of the written fields")
      ->type_name("NAME");
  cmd->add_flag("--show-managed-fields", opts->show_managed_fields,
                "Keep metadata.managedFields in -o json and -o yaml output");
  cmd->callback([&ctx, opts] {
    ctx.cooperative_cancel = true;
    if (opts->dry_run_flag->count() > 0 && opts->dry_run.empty()) {
      opts->dry_run = "client";
    }
    if (opts->wait_flag->count() > 0 && opts->wait.empty()) {
      opts->wait = "Succeeded";
    }
    ctx.run = [&ctx, opts] { return run_submit(ctx, *opts); };
  });
}

}  // namespace gpuorch::cli
