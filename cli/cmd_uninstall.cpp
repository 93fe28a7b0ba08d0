// gpuorch uninstall: removes what `gpuorch install` applied, reconciler first
// and namespace last. The CRD goes only when no GPUWorkload exists, or with
// --force, which first deletes every workload the way the reconciler would
// (its Jobs, then the gpuorch.io/cleanup finalizer).
#include <algorithm>
#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gpuorch/control/names.hpp>
#include <gpuorch/install/manifests.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/rest_config.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "kube_connect.hpp"
#include "kubernetes_manifests.hpp"
#include "workload_io.hpp"

namespace gpuorch::cli {
namespace {

using nlohmann::json;

struct UninstallOptions {
  bool force = false;
  bool keep_crd = false;
  std::string dry_run = "none";
  std::string timeout = "2m";
  const CLI::Option* dry_run_flag = nullptr;
};

int usage_error(Context& ctx, const std::string& message) {
  ctx.io.err << "error: " << message << "\nRun '" << ctx.program_name << " uninstall --help' for usage.\n";
  return k_exit_usage;
}

/// kubectl delete's `cronjob.batch "gpuorch-reconcile"`.
std::string quoted(const kube::Gvr& gvr, const json& object) {
  std::string kind = object.value("kind", "");
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return kind + (gvr.group.empty() ? "" : "." + gvr.group) + " \"" + object["metadata"].value("name", "") + "\"";
}

std::string ns_of(const kube::Gvr& gvr, const json& object) {
  return gvr.namespaced ? object["metadata"].value("namespace", std::string(install::k_namespace)) : "";
}

struct Deleted {
  kube::Gvr gvr;
  std::string ns;
  std::string name;
  std::string what;
};

class Uninstaller {
 public:
  Uninstaller(Context& ctx, kube::Client& client, const UninstallOptions& opts)
      : m_ctx(ctx), m_client(client), m_opts(opts) {}

  /// Deletes one object if it exists; remembers it to wait for. False on an error (printed).
  bool remove(const kube::Gvr& gvr, const std::string& ns, const json& object) {
    const std::string name = object["metadata"].value("name", "");
    auto current = m_client.get(gvr, ns, name);
    if (!current) {
      if (current.error().code() == ErrorCode::not_found) {
        return true;
      }
      return fail(current.error());
    }
    ++m_found;
    if (m_opts.dry_run != "client") {
      kube::DeleteOptions options;
      options.propagation_policy = "Background";
      options.dry_run = m_opts.dry_run == "server";
      auto result = m_client.remove(gvr, ns, name, options);
      if (!result && result.error().code() != ErrorCode::not_found) {
        return fail(result.error());
      }
    }
    m_ctx.io.out << quoted(gvr, object) << " deleted" << dry_run_suffix(m_opts.dry_run) << '\n';
    m_deleted.push_back({gvr, ns, name, quoted(gvr, object)});
    return true;
  }

  /// Every workload deleted as the reconciler would: its Jobs first, then the finalizer.
  bool remove_workloads(const std::vector<json>& workloads) {
    const auto gvr = kube::resources::gpu_workloads();
    for (const auto& workload : workloads) {
      const std::string ns = workload["metadata"].value("namespace", "");
      if (!remove(gvr, ns, workload)) {
        return false;
      }
      kube::ListOptions jobs_of;
      jobs_of.label_selector = std::string(control::k_workload_label) + "=" + workload["metadata"].value("name", "");
      auto jobs = m_client.list_all(kube::resources::jobs(), ns, jobs_of);
      if (!jobs) {
        return fail(jobs.error());
      }
      for (const auto& job : jobs->value("items", json::array())) {
        json named = job;
        named["kind"] = "Job";
        if (!remove(kube::resources::jobs(), ns, named)) {
          return false;
        }
      }
      if (m_opts.dry_run == "none" && !drop_finalizer(gvr, ns, workload["metadata"].value("name", ""))) {
        return false;
      }
    }
    return true;
  }

  /// Waits until every deleted object is gone, as kubectl delete does.
  int wait_gone(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (const auto& object : m_deleted) {
      while (true) {
        auto current = m_client.get(object.gvr, object.ns, object.name);
        if (!current && current.error().code() == ErrorCode::not_found) {
          break;
        }
        if (!current) {
          print_error(m_ctx.io.err, current.error());
          return exit_code_for(current.error());
        }
        if (std::chrono::steady_clock::now() >= deadline) {
          m_ctx.io.err << "error: timed out after " << m_opts.timeout << " waiting for " << object.what
                       << " to be deleted\n";
          return k_exit_timeout;
        }
        if (!m_ctx.cancel.wait_for(std::chrono::milliseconds(200))) {
          return exit_code_for(m_ctx.cancel.check("waiting for the deletion").error());
        }
      }
    }
    return k_exit_ok;
  }

  [[nodiscard]] int found() const { return m_found; }
  [[nodiscard]] int exit_code() const { return m_exit; }

 private:
  bool fail(const Error& error) {
    print_error(m_ctx.io.err, error);
    m_exit = exit_code_for(error);
    return false;
  }

  /// Removes gpuorch.io/cleanup with a resourceVersion precondition; retried on a conflict.
  bool drop_finalizer(const kube::Gvr& gvr, const std::string& ns, const std::string& name) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto current = m_client.get(gvr, ns, name);
      if (!current) {
        return current.error().code() == ErrorCode::not_found || fail(current.error());
      }
      json finalizers = json::array();
      bool had = false;
      for (const auto& finalizer : (*current)["metadata"].value("finalizers", json::array())) {
        if (finalizer == control::k_finalizer) {
          had = true;
        } else {
          finalizers.push_back(finalizer);
        }
      }
      if (!had) {
        return true;
      }
      const json patch = {
          {"metadata",
           {{"finalizers", finalizers}, {"resourceVersion", (*current)["metadata"].value("resourceVersion", "")}}}};
      auto result = m_client.patch(gvr, ns, name, kube::PatchType::merge, patch.dump());
      if (result || result.error().code() == ErrorCode::not_found) {
        return true;
      }
      if (result.error().code() != ErrorCode::conflict) {
        return fail(result.error());
      }
    }
    return fail(Error(ErrorCode::conflict, "gpuworkload \"" + name +
                                               "\": the finalizer could not be removed after 5 "
                                               "attempts (the object keeps changing)"));
  }

  Context& m_ctx;
  kube::Client& m_client;
  const UninstallOptions& m_opts;
  std::vector<Deleted> m_deleted;
  int m_found = 0;
  int m_exit = k_exit_ok;
};

int run_uninstall(Context& ctx, const UninstallOptions& opts) {
  if (opts.force && opts.keep_crd) {
    return usage_error(ctx,
                       "--force deletes the GPUWorkloads so that the CRD can go; it cannot be combined with "
                       "--keep-crd");
  }
  auto timeout = kube::parse_request_timeout(opts.timeout);
  if (!timeout) {
    return usage_error(ctx, "--timeout: " + timeout.error().message());
  }
  auto objects = install::uninstall_objects(kubernetes_manifests());
  if (!objects) {
    print_error(ctx.io.err, objects.error());
    return exit_code_for(objects.error());
  }
  auto connected = connect(ctx);
  if (!connected) {
    print_error(ctx.io.err, connected.error());
    return exit_code_for(connected.error());
  }
  auto& client = **connected;

  // Refuse before deleting anything: half an uninstall helps nobody.
  std::vector<json> workloads;
  if (!opts.keep_crd) {
    auto list = client.list_all(kube::resources::gpu_workloads(), "");
    if (list) {
      workloads = list->value("items", json::array()).get<std::vector<json>>();
    } else if (list.error().code() != ErrorCode::not_found) {
      print_error(ctx.io.err, list.error());
      return exit_code_for(list.error());
    }
  }
  if (!workloads.empty() && !opts.force) {
    std::string names;
    for (std::size_t i = 0; i < workloads.size() && i < 5; ++i) {
      names += (i ? ", " : "") + workloads[i]["metadata"].value("namespace", "") + "/" +
               workloads[i]["metadata"].value("name", "");
    }
    if (workloads.size() > 5) {
      names += ", ...";
    }
    ctx.io.err << "error: " << workloads.size()
               << (workloads.size() == 1 ? " GPUWorkload still exists (" : " GPUWorkloads still exist (") << names
               << "); deleting the CRD would delete them.\n"
               << "Delete them first (gpuorch delete), pass --force to delete them and their Jobs, or --keep-crd to "
                  "keep the CRD and the workloads. Nothing was removed.\n";
    return k_exit_error;
  }

  Uninstaller uninstaller(ctx, client, opts);
  for (const auto& object : *objects) {
    const auto gvr = install::gvr_of(object);
    const bool is_crd = object.value("kind", "") == "CustomResourceDefinition";
    if (is_crd && opts.keep_crd) {
      continue;
    }
    if (is_crd && !uninstaller.remove_workloads(workloads)) {
      return uninstaller.exit_code();
    }
    if (!uninstaller.remove(*gvr, ns_of(*gvr, object), object)) {
      return uninstaller.exit_code();
    }
  }
  if (uninstaller.found() == 0) {
    ctx.io.err << "gpuorch is not installed: none of its objects exist in the cluster\n";
    return k_exit_ok;
  }
  if (opts.dry_run != "none") {
    return k_exit_ok;
  }
  return uninstaller.wait_gone(*timeout);
}

}  // namespace

void setup_uninstall(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<UninstallOptions>();
  auto* cmd = root.add_subcommand("uninstall",
                                  "Remove the reconciler, its RBAC, the CRD and the gpuorch-system "
                                  "namespace from the cluster");
  cmd->add_flag("--force", opts->force,
                "Delete existing GPUWorkloads (their Jobs first, then the finalizer) so that the CRD can go");
  cmd->add_flag("--keep-crd", opts->keep_crd, "Keep the CRD and every GPUWorkload; remove the rest");
  // --dry-run alone means client, as in kubectl.
  opts->dry_run_flag = cmd->add_option("--dry-run", opts->dry_run,
                                       "none, client (list what would go, delete nothing; the default of --dry-run "
                                       "alone) or server (deletions validated by the server, not done)")
                           ->type_name("MODE")
                           ->expected(0, 1)
                           ->check(CLI::IsMember({"none", "client", "server"}));
  cmd->add_option("--timeout", opts->timeout, "How long to wait for the objects to be gone (default 2m)")
      ->type_name("DURATION");
  cmd->callback([&ctx, opts] {
    ctx.cooperative_cancel = true;
    if (opts->dry_run_flag->count() > 0 && opts->dry_run.empty()) {
      opts->dry_run = "client";
    }
    ctx.run = [&ctx, opts] { return run_uninstall(ctx, *opts); };
  });
}

}  // namespace gpuorch::cli
