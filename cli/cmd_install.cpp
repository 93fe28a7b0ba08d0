// gpuorch install: server-side apply of packaging/kubernetes (embedded at build
// time) for one mode of the reconciler, the other mode's reconciler pruned (a
// mode switch must not leave two reconcilers), then wait for the CRD to be
// Established.
#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gpuorch/install/manifests.hpp>
#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/rest_config.hpp>
#include <gpuorch/model/yaml.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "kube_connect.hpp"
#include "kubernetes_manifests.hpp"
#include "workload_io.hpp"

namespace gpuorch::cli {
namespace {

using nlohmann::json;

struct InstallOptions {
  std::string mode = "cronjob";
  std::string schedule;
  std::string image;
  std::string dry_run = "none";
  bool print = false;
  std::string output;
  std::string field_manager{install::k_field_manager};
  bool force_conflicts = false;
  std::string timeout = "2m";
  const CLI::Option* dry_run_flag = nullptr;
};

int usage_error(Context& ctx, const std::string& message) {
  ctx.io.err << "error: " << message << "\nRun '" << ctx.program_name << " install --help' for usage.\n";
  return k_exit_usage;
}

/// -o yaml prints a stream `kubectl apply -f -` takes; json a List; name one name per line.
void print_result(Context& ctx, const std::vector<json>& objects, const std::string& format) {
  if (format == "name") {
    for (const auto& object : objects) {
      ctx.io.out << install::kubectl_name(object) << '\n';
    }
  } else if (format == "json") {
    print_objects(ctx.io.out, objects, "json", false);
  } else {
    ctx.io.out << model::to_yaml_stream(objects);
  }
}

bool established(const json& crd) {
  if (!crd.contains("status") || !crd["status"].contains("conditions")) {
    return false;
  }
  for (const auto& condition : crd["status"]["conditions"]) {
    if (condition.value("type", "") == "Established" && condition.value("status", "") == "True") {
      return true;
    }
  }
  return false;
}

/// Polls each CRD until it is Established (what `kubectl wait --for=condition=Established` does).
int wait_established(Context& ctx, kube::Client& client, const std::vector<json>& crds,
                     std::chrono::milliseconds timeout, const std::string& timeout_text) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (const auto& crd : crds) {
    const std::string name = crd["metadata"].value("name", "");
    while (true) {
      auto current = client.get(kube::resources::custom_resource_definitions(), "", name);
      if (current && established(*current)) {
        break;
      }
      if (!current && current.error().code() != ErrorCode::not_found) {
        print_error(ctx.io.err, current.error());
        return exit_code_for(current.error());
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        ctx.io.err << "error: timed out after " << timeout_text << " waiting for " << install::kubectl_name(crd)
                   << " to be Established\n";
        return k_exit_timeout;
      }
      if (!ctx.cancel.wait_for(std::chrono::milliseconds(200))) {
        return exit_code_for(ctx.cancel.check("waiting for the CRD").error());
      }
    }
  }
  return k_exit_ok;
}

/// What --print and the client dry run cannot check (they contact no cluster):
/// the objects of the other mode that a real install deletes if it finds them.
void note_prune(Context& ctx, const std::vector<json>& others, install::Mode mode, bool print) {
  if (others.empty()) {
    return;
  }
  std::string names;
  for (const auto& object : others) {
    names += (names.empty() ? "" : ", ") + install::kubectl_name(object);
  }
  ctx.io.err << "note: "
             << (print ? "applying these does not remove the other mode's reconciler; "
                         "gpuorch install --mode " +
                             std::string(install::to_string(mode)) + " also prunes "
                       : "the install also prunes ")
             << names << (others.size() == 1 ? " where it exists" : " where they exist") << " with the label "
             << install::k_part_of_label << "=gpuorch\n";
}

/// Deletes the other mode's objects that exist and are gpuorch's, after the
/// new mode's are applied: during the switch the shared Lease keeps the two
/// reconcilers from both acting, and there is no gap without one.
int prune_other_mode(Context& ctx, kube::Client& client, const std::vector<json>& others, const InstallOptions& opts) {
  for (const auto& object : others) {
    const auto gvr = install::gvr_of(object);
    const std::string ns =
        gvr->namespaced ? object["metadata"].value("namespace", std::string(install::k_namespace)) : "";
    const std::string name = object["metadata"].value("name", "");
    auto live = client.get(*gvr, ns, name);
    if (!live) {
      if (live.error().code() == ErrorCode::not_found) {
        continue;
      }
      ctx.io.err << "error: checking " << install::kubectl_name(object) << " of the other mode:\n";
      print_error(ctx.io.err, live.error());
      return exit_code_for(live.error());
    }
    if (!install::owned_by_gpuorch(*live)) {
      ctx.io.err << "warning: " << install::kubectl_name(object) << " exists without the label "
                 << install::k_part_of_label << "=gpuorch: not gpuorch's, left in place\n";
      continue;
    }
    kube::DeleteOptions options;
    options.propagation_policy = "Background";
    options.dry_run = opts.dry_run == "server";
    auto result = client.remove(*gvr, ns, name, options);
    if (!result && result.error().code() != ErrorCode::not_found) {
      ctx.io.err << "error: pruning " << install::kubectl_name(object) << " of the other mode:\n";
      print_error(ctx.io.err, result.error());
      return exit_code_for(result.error());
    }
    if (opts.output.empty()) {
      ctx.io.out << install::kubectl_name(object) << " pruned" << dry_run_suffix(opts.dry_run) << '\n';
    }
  }
  return k_exit_ok;
}

int run_install(Context& ctx, const InstallOptions& opts) {
  const auto mode = install::parse_mode(opts.mode);
  if (!mode) {
    return usage_error(ctx, "--mode must be cronjob or deployment, got \"" + opts.mode + "\"");
  }
  if (opts.print && opts.dry_run != "none") {
    return usage_error(ctx, "--print and --dry-run cannot be combined (--print sends nothing)");
  }
  auto timeout = kube::parse_request_timeout(opts.timeout);
  if (!timeout) {
    return usage_error(ctx, "--timeout: " + timeout.error().message());
  }
  auto objects = install::install_objects(kubernetes_manifests(), {*mode, opts.image, opts.schedule});
  if (!objects) {
    if (objects.error().code() == ErrorCode::usage) {
      return usage_error(ctx, objects.error().message());
    }
    print_error(ctx.io.err, objects.error());
    return exit_code_for(objects.error());
  }
  auto others = install::other_mode_objects(kubernetes_manifests(), *mode);
  if (!others) {
    print_error(ctx.io.err, others.error());
    return exit_code_for(others.error());
  }
  if (opts.print) {
    print_result(ctx, *objects, opts.output.empty() ? "yaml" : opts.output);
    note_prune(ctx, *others, *mode, true);
    return k_exit_ok;
  }
  if (opts.image.empty()) {
    return usage_error(ctx, "--image is required: the manifests name the placeholder " +
                                std::string(install::k_placeholder_image) +
                                " (build an image with packaging/container/Dockerfile; --print shows the manifests)");
  }
  if (opts.dry_run == "client") {
    if (opts.output.empty()) {
      for (const auto& object : *objects) {
        ctx.io.out << install::kubectl_name(object) << " serverside-applied" << dry_run_suffix(opts.dry_run) << '\n';
      }
    } else {
      print_result(ctx, *objects, opts.output);
    }
    note_prune(ctx, *others, *mode, false);
    return k_exit_ok;
  }

  auto connected = connect(ctx);
  if (!connected) {
    print_error(ctx.io.err, connected.error());
    return exit_code_for(connected.error());
  }
  auto& client = **connected;
  kube::WriteOptions write;
  write.dry_run = opts.dry_run == "server";
  write.field_manager = opts.field_manager;
  write.force = opts.force_conflicts;
  std::vector<json> applied;
  std::vector<json> crds;
  for (const auto& object : *objects) {
    const auto gvr = install::gvr_of(object);
    const std::string ns =
        gvr->namespaced ? object["metadata"].value("namespace", std::string(install::k_namespace)) : "";
    auto result = client.apply(*gvr, ns, object, write);
    if (!result) {
      ctx.io.err << "error: applying " << install::kubectl_name(object) << ":\n";
      print_error(ctx.io.err, result.error());
      if (result.error().code() == ErrorCode::conflict && result.error().http_status() == 409 &&
          !opts.force_conflicts) {
        // Typically objects applied before with `kubectl apply`: their fields have another manager.
        ctx.io.err << "Another field manager set these fields to other values (e.g. an earlier kubectl apply). "
                      "Re-run with --force-conflicts to take them over.\n";
      }
      return exit_code_for(result.error());
    }
    if (opts.output.empty()) {
      ctx.io.out << install::kubectl_name(object) << " serverside-applied" << dry_run_suffix(opts.dry_run) << '\n';
    }
    if (object.value("kind", "") == "CustomResourceDefinition") {
      crds.push_back(object);
    }
    applied.push_back(std::move(*result));
  }
  if (!opts.output.empty()) {
    print_result(ctx, applied, opts.output);
  }
  if (const int pruned = prune_other_mode(ctx, client, *others, opts); pruned != k_exit_ok) {
    return pruned;
  }
  if (write.dry_run) {
    return k_exit_ok;
  }
  return wait_established(ctx, client, crds, *timeout, opts.timeout);
}

}  // namespace

void setup_install(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<InstallOptions>();
  auto* cmd = root.add_subcommand(
      "install", "Install the GPUWorkload CRD and the reconciler (CronJob or Deployment) into the cluster");
  cmd->add_option("--mode", opts->mode,
                  "How the reconciler runs: cronjob (one pass per schedule) or deployment "
                  "(the watch loop); default cronjob")
      ->type_name("MODE")
      ->check(CLI::IsMember({"cronjob", "deployment"}));
  cmd->add_option("--schedule", opts->schedule,
                  "Cron schedule of the CronJob, e.g. \"*/5 * * * *\" (default: the "
                  "manifest's, every minute)")
      ->type_name("CRON");
  cmd->add_option("--image", opts->image, "Container image of the reconciler (required unless --print)")
      ->type_name("IMAGE");
  // --dry-run alone means client, as in kubectl.
  opts->dry_run_flag = cmd->add_option("--dry-run", opts->dry_run,
                                       "none, client (send nothing; the default of --dry-run alone) or server "
                                       "(validated by the server, not stored)")
                           ->type_name("MODE")
                           ->expected(0, 1)
                           ->check(CLI::IsMember({"none", "client", "server"}));
  cmd->add_flag("--print", opts->print, "Print the manifests instead of applying them (no cluster needed)");
  cmd->add_option("-o,--output", opts->output,
                  "Output format: yaml, json or name (default: one line per object; "
                  "yaml with --print)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"yaml", "json", "name"}));
  cmd->add_option("--field-manager", opts->field_manager, "Name of the manager of the applied fields (default gpuorch)")
      ->type_name("NAME");
  cmd->add_flag("--force-conflicts", opts->force_conflicts,
                "Take over fields another manager owns (server-side apply conflicts)");
  cmd->add_option("--timeout", opts->timeout, "How long to wait for the CRD to be Established (default 2m)")
      ->type_name("DURATION");
  cmd->callback([&ctx, opts] {
    ctx.cooperative_cancel = true;
    if (opts->dry_run_flag->count() > 0 && opts->dry_run.empty()) {
      opts->dry_run = "client";
    }
    ctx.run = [&ctx, opts] { return run_install(ctx, *opts); };
  });
}

}  // namespace gpuorch::cli
