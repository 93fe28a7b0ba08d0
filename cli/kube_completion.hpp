#pragma once

#include <CLI/CLI.hpp>

#include "completion.hpp"
#include "context.hpp"

namespace gpuorch::cli {

/// Completes kubeconfig context, cluster and user names offline from the
/// kubeconfig files the command line selects (--kubeconfig, KUBECONFIG, ~/.kube/config).
Completions complete_contexts(Context& ctx, std::string_view prefix);
Completions complete_clusters(Context& ctx, std::string_view prefix);
Completions complete_users(Context& ctx, std::string_view prefix);

/// Completes namespaces from the cluster (a short request timeout keeps the
/// shell responsive; nothing is offered when the cluster cannot be reached).
Completions complete_namespaces(Context& ctx, std::string_view prefix);

/// Completes GPUWorkload names of the selected namespace, with their phase.
Completions complete_workload_names(Context& ctx, std::string_view prefix);

/// Registers the completers above for the global --context, --cluster, --user
/// and -n flags of `root`.
void register_kube_completers(Context& ctx, CLI::App& root);

}  // namespace gpuorch::cli
