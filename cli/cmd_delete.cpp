#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/rest_config.hpp>
#include <gpuorch/model/manifest.hpp>
#include <gpuorch/model/workload.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "kube_completion.hpp"
#include "kube_connect.hpp"
#include "workload_io.hpp"
#include "workload_wait.hpp"

namespace gpuorch::cli {
namespace {

using nlohmann::json;

struct DeleteOptions {
  std::vector<std::string> names;
  std::vector<std::string> filenames;
  bool all = false;
  std::string selector;
  bool wait = false;
  std::string timeout = "0";
  bool ignore_not_found = false;
  std::string output;
  std::string dry_run = "none";
};

struct Target {
  std::string ns;  ///< empty: the context's namespace
  std::string name;
};

int usage_error(Context& ctx, const std::string& message) {
  ctx.io.err << "error: " << message << "\nRun '" << ctx.program_name << " delete --help' for usage.\n";
  return k_exit_usage;
}

/// The objects named by -f manifests (kubectl reads names and namespaces
/// only; the rest of the manifest does not matter for a deletion).
bool targets_from_files(Context& ctx, const std::vector<std::string>& filenames, std::vector<Target>& out) {
  bool ok = true;
  const bool read =
      for_each_manifest_document(ctx, filenames, [&](const model::ManifestDocument& document, std::size_t) {
        const json& value = document.value;
        const std::string kind = value.is_object() ? value.value("kind", std::string()) : std::string();
        if (kind != model::k_workload_kind) {
          ctx.io.err << document.locate(json::json_pointer(""), false) << ": kind: must be \"" << model::k_workload_kind
                     << "\", got \"" << kind << "\"\n";
          ok = false;
          return;
        }
        const json metadata = value.value("metadata", json::object());
        Target target{metadata.value("namespace", std::string()), metadata.value("name", std::string())};
        if (target.name.empty()) {
          ctx.io.err << document.locate(json::json_pointer("/metadata"), true)
                     << ": metadata.name: required to delete an object\n";
          ok = false;
          return;
        }
        out.push_back(std::move(target));
      });
  return read && ok;
}

int run_delete(Context& ctx, const DeleteOptions& opts) {
  const bool by_selection = opts.all || !opts.selector.empty();
  if (opts.names.empty() && opts.filenames.empty() && !by_selection) {
    return usage_error(ctx, "resource(s) were provided, but no name, label selector, or --all flag specified");
  }
  if (by_selection && (!opts.names.empty() || !opts.filenames.empty())) {
    return usage_error(ctx, "names and -f cannot be combined with --all or --selector");
  }
  if (!opts.names.empty() && !opts.filenames.empty()) {
    return usage_error(ctx, "names cannot be combined with -f");
  }
  if (opts.wait && opts.dry_run != "none") {
    return usage_error(ctx, "--wait cannot be used with --dry-run");
  }
  auto timeout = kube::parse_request_timeout(opts.timeout);
  if (!timeout) {
    return usage_error(ctx, "--timeout: " + timeout.error().message());
  }

  std::vector<Target> targets;
  for (const auto& name : opts.names) {
    targets.push_back({"", name});
  }
  if (!opts.filenames.empty() && !targets_from_files(ctx, opts.filenames, targets)) {
    return k_exit_usage;
  }

  auto connected = connect(ctx);
  if (!connected) {
    print_error(ctx.io.err, connected.error());
    return exit_code_for(connected.error());
  }
  auto& client = **connected;
  const auto gvr = kube::resources::gpu_workloads();
  const std::string context_ns = client.config().namespace_name;

  if (by_selection) {
    kube::ListOptions list_options;
    list_options.label_selector = opts.selector;
    auto list = client.list_all(gvr, context_ns, list_options);
    if (!list) {
      print_error(ctx.io.err, list.error());
      return exit_code_for(list.error());
    }
    for (const auto& item : list->value("items", json::array())) {
      targets.push_back({context_ns, item["metadata"].value("name", std::string())});
    }
    if (targets.empty()) {
      ctx.io.err << "No resources found\n";
      return k_exit_ok;
    }
  }

  int code = k_exit_ok;
  WaitPlan waits;
  kube::DeleteOptions delete_options;
  delete_options.propagation_policy = "Background";
  // server: the API server checks the deletion (existence, preconditions, admission) and
  // stores nothing; client: nothing is sent for the named objects, as in kubectl.
  delete_options.dry_run = opts.dry_run == "server";
  for (auto& target : targets) {
    if (target.ns.empty()) {
      target.ns = context_ns;
    } else if (!ctx.global.namespace_name.empty() && target.ns != ctx.global.namespace_name) {
      ctx.io.err << "error: the namespace from the provided object \"" << target.ns
                 << "\" does not match the namespace \"" << ctx.global.namespace_name
                 << "\". You must pass '--namespace=" << target.ns << "' to perform this operation.\n";
      code = std::max<int>(code, k_exit_error);
      continue;
    }
    if (opts.dry_run == "client") {
      if (opts.output == "name") {
        ctx.io.out << object_reference(target.name) << '\n';
      } else {
        ctx.io.out << quoted_reference(target.name) << " deleted" << dry_run_suffix(opts.dry_run) << '\n';
      }
      continue;
    }
    auto answer = client.remove(gvr, target.ns, target.name, delete_options);
    if (!answer) {
      if (answer.error().code() == ErrorCode::not_found && opts.ignore_not_found) {
        continue;
      }
      print_error(ctx.io.err, answer.error());
      code = std::max(code, exit_code_for(answer.error()));
      continue;
    }
    if (opts.output == "name") {
      ctx.io.out << object_reference(target.name) << '\n';
    } else {
      ctx.io.out << quoted_reference(target.name) << " deleted" << dry_run_suffix(opts.dry_run) << '\n';
    }
    // While finalizers hold it, the answer is the object, marked for deletion.
    if (opts.wait && answer->value("kind", std::string()) == model::k_workload_kind) {
      const json metadata = answer->value("metadata", json::object());
      WaitTarget wait_target{target.name, metadata.value("uid", std::string()), {}};
      for (const auto& f : metadata.value("finalizers", json::array())) {
        if (f.is_string()) {
          wait_target.finalizers.push_back(f.get<std::string>());
        }
      }
      waits.add(target.ns, std::move(wait_target), metadata.value("resourceVersion", std::string()));
    }
  }
  ctx.io.out << std::flush;

  const int waited = waits.wait(ctx, client, WaitGoal::deleted, *timeout, false);
  return waited == k_exit_interrupted ? waited : std::max(code, waited);
}

}  // namespace

void setup_delete(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<DeleteOptions>();
  auto* cmd = root.add_subcommand("delete", "Delete GPUWorkloads (their Jobs go too once the finalizer runs)");
  register_completer(ctx, cmd->add_option("NAME", opts->names, "Names of GPUWorkloads to delete"),
                     complete_workload_names);
  cmd->add_option("-f,--filename", opts->filenames,
                  "Delete the GPUWorkloads named in these manifests (file, directory or - for stdin)")
      ->type_name("FILE")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd->add_flag("--all", opts->all, "Delete every GPUWorkload in the namespace");
  cmd->add_option("-l,--selector", opts->selector, "Delete the GPUWorkloads matching this label selector")
      ->type_name("SELECTOR");
  cmd->add_flag("--wait", opts->wait, "Wait until the objects are gone (their finalizers removed)");
  cmd->add_option("--timeout", opts->timeout, "Give up waiting after this long, e.g. 2m (0: no limit)")
      ->type_name("DURATION");
  cmd->add_flag("--ignore-not-found", opts->ignore_not_found, "Treat a GPUWorkload that does not exist as deleted");
  cmd->add_option("-o,--output", opts->output, "Output format: name")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"name"}));
  // --dry-run alone means client, as in kubectl; a mode only after '=' (kubectl's
  // NoOptDefVal), so `delete --dry-run NAME` keeps NAME a name.
  const CLI::Validator dry_run_mode(
      [](std::string& value) -> std::string {
        // A bare flag reads "true"; kubectl's deprecated =true and =false still work.
        if (value == "true") {
          value = "client";
        } else if (value == "false") {
          value = "none";
        }
        if (value == "none" || value == "client" || value == "server") {
          return {};
        }
        return value + " not in {none,client,server}";
      },
      "{none,client,server}");
  cmd->add_flag("--dry-run", opts->dry_run,
                "client (print what would be deleted, send no deletion; the default of --dry-run alone), server "
                "(the server checks the deletion and keeps the objects) or none")
      ->option_text("[=MODE]:{none,client,server}")
      ->transform(dry_run_mode);
  cmd->callback([&ctx, opts] {
    ctx.cooperative_cancel = true;
    ctx.run = [&ctx, opts] { return run_delete(ctx, *opts); };
  });
}

}  // namespace gpuorch::cli
