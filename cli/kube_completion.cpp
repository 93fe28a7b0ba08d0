#include "kube_completion.hpp"

#include <chrono>

#include <fmt/format.h>

#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/kubeconfig.hpp>
#include <gpuorch/kube/rest_config.hpp>

#include "kube_connect.hpp"

namespace gpuorch::cli {
namespace {

/// Completion must answer fast: one attempt, never a long wait for a cluster.
constexpr std::chrono::milliseconds k_completion_timeout{2000};

Result<kube::KubeConfig> selected_kubeconfig(Context& ctx) {
  auto loaded = kube::load_kubeconfig(ctx.global.kubeconfig, process_environment(), kube::RealFileSystem());
  if (!loaded) {
    return std::move(loaded).error();
  }
  return std::move(loaded->config);
}

/// A client for one short request: no retries (a refused connection or a 503
/// answers "nothing to offer" at once), the request timeout capped, no
/// interactive exec-plugin prompts, nothing printed.
Result<std::shared_ptr<kube::Client>> quick_client(Context& ctx) {
  auto env = process_environment();
  GPUORCH_ASSIGN_OR_RETURN(auto config,
                           kube::load_rest_config(config_overrides(ctx.global), env, kube::RealFileSystem()));
  if (config.timeout.count() == 0 || config.timeout > k_completion_timeout) {
    config.timeout = k_completion_timeout;
  }
  kube::ClientOptions options;
  options.max_retries = 0;
  options.max_connect_retries = 0;
  options.stdin_is_terminal = false;
  GPUORCH_ASSIGN_OR_RETURN(auto client, kube::Client::create(std::move(config), options, std::move(env)));
  client->set_warning_handler([](const std::string&) {});
  return client;
}

}  // namespace

Completions complete_contexts(Context& ctx, std::string_view) {
  Completions out;
  auto config = selected_kubeconfig(ctx);
  if (!config) {
    return out;
  }
  for (const auto& [name, context] : config->contexts) {
    std::string description = fmt::format("cluster {}", context.cluster);
    if (!context.namespace_name.empty()) {
      description += fmt::format(", namespace {}", context.namespace_name);
    }
    out.candidates.push_back({name, description});
  }
  return out;
}

Completions complete_clusters(Context& ctx, std::string_view) {
  Completions out;
  if (auto config = selected_kubeconfig(ctx)) {
    for (const auto& [name, cluster] : config->clusters) {
      out.candidates.push_back({name, cluster.server});
    }
  }
  return out;
}

Completions complete_users(Context& ctx, std::string_view) {
  Completions out;
  if (auto config = selected_kubeconfig(ctx)) {
    for (const auto& [name, user] : config->users) {
      out.candidates.push_back({name, ""});
    }
  }
  return out;
}

Completions complete_namespaces(Context& ctx, std::string_view) {
  Completions out;
  auto client = quick_client(ctx);
  if (!client) {
    return out;
  }
  auto list = (*client)->list(kube::resources::namespaces(), "");
  if (!list) {
    return out;
  }
  for (const auto& item : (*list)["items"]) {
    out.candidates.push_back({item["metadata"].value("name", std::string()), ""});
  }
  return out;
}

Completions complete_workload_names(Context& ctx, std::string_view) {
  Completions out;
  auto client = quick_client(ctx);
  if (!client) {
    return out;
  }
  auto list = (*client)->list(kube::resources::gpu_workloads(), (*client)->config().namespace_name);
  if (!list) {
    return out;
  }
  for (const auto& item : (*list)["items"]) {
    std::string phase;
    if (auto status = item.find("status"); status != item.end() && status->is_object()) {
      phase = status->value("phase", std::string());
    }
    out.candidates.push_back({item["metadata"].value("name", std::string()), phase});
  }
  return out;
}

void register_kube_completers(Context& ctx, CLI::App& root) {
  if (const auto* option = root.get_option_no_throw("--context")) {
    register_completer(ctx, option, complete_contexts);
  }
  if (const auto* option = root.get_option_no_throw("--cluster")) {
    register_completer(ctx, option, complete_clusters);
  }
  if (const auto* option = root.get_option_no_throw("--user")) {
    register_completer(ctx, option, complete_users);
  }
  if (const auto* option = root.get_option_no_throw("--namespace")) {
    register_completer(ctx, option, complete_namespaces);
  }
}

}  // namespace gpuorch::cli
