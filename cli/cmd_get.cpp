#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <thread>

#include <gpuorch/kube/client.hpp>
#include <gpuorch/kube/watch.hpp>
#include <gpuorch/model/jsonpath.hpp>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/model/yaml.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "kube_completion.hpp"
#include "kube_connect.hpp"
#include "output_format.hpp"
#include "workload_io.hpp"
#include "workload_table.hpp"

namespace gpuorch::cli {
namespace {

using nlohmann::json;

struct GetOptions {
  std::vector<std::string> names;
  bool all_namespaces = false;
  std::string selector;
  std::string output;
  bool no_headers = false;
  bool watch = false;
  bool watch_only = false;
  bool show_managed_fields = false;
};

/// How the objects are printed: the -o format, parsed once before any request.
struct Printer {
  const GetOptions* opts = nullptr;
  std::optional<model::JsonPath> jsonpath;
  std::optional<CustomColumns> columns;
};

/// A 404 on a list (or without an object name) means the resource type is not
/// served: the CRD is not installed.
Error explain_missing_type(Error error) {
  if (error.http_status() == 404) {
    return Error(ErrorCode::not_found,
                 "the server doesn't have a resource type \"gpuworkloads\" (is the GPUWorkload CRD installed?)");
  }
  return error;
}

bool is_missing_type(const Error& error) {
  return error.http_status() == 404 && error.message() == "the server could not find the requested resource";
}

int print_items(Context& ctx, const Printer& printer, const std::vector<json>& items, bool single,
                bool headers = true) {
  const GetOptions& opts = *printer.opts;
  if (opts.output == "json" || opts.output == "yaml") {
    print_objects(ctx.io.out, items, opts.output, single, opts.show_managed_fields);
    return k_exit_ok;
  }
  if (opts.output == "name") {
    for (const auto& item : items) {
      ctx.io.out << object_reference(item["metadata"].value("name", std::string())) << '\n';
    }
    return k_exit_ok;
  }
  if (printer.jsonpath) {
    json document;
    if (single && items.size() == 1) {
      document = items.front();
    } else {
      document = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}, {"metadata", {{"resourceVersion", ""}}}};
    }
    auto text = printer.jsonpath->execute(document);
    if (!text) {
      print_error(ctx.io.err, text.error());
      return k_exit_error;
    }
    ctx.io.out << *text;
    return k_exit_ok;
  }
  if (printer.columns) {
    auto status = print_custom_columns(ctx.io.out, *printer.columns, items, opts.no_headers || !headers);
    if (!status) {
      print_error(ctx.io.err, status.error());
      return k_exit_error;
    }
    return k_exit_ok;
  }
  TableOptions table;
  table.wide = opts.output == "wide";
  table.with_namespace = opts.all_namespaces;
  table.no_headers = opts.no_headers || !headers;
  table.now = std::chrono::system_clock::now();
  print_workload_table(ctx.io.out, items, table);
  return k_exit_ok;
}

/// Follows changes after `resource_version` and prints each changed object
/// (kubectl get --watch): resumes after the server ends a stream, lists again
/// after 410 Gone (printing what changed meanwhile), retries transient errors,
/// and ends at Ctrl-C.
int watch_items(Context& ctx, kube::Client& client, const Printer& printer, const std::string& ns,
                std::string resource_version, bool headers_printed, const std::vector<json>& known) {
  const GetOptions& opts = *printer.opts;
  const auto gvr = kube::resources::gpu_workloads();
  StopBridge bridge(ctx.cancel);
  // namespace/name -> the resourceVersion last shown (or listed), so that a
  // re-list prints only what changed.
  std::map<std::string, std::string> printed_versions;
  for (const auto& object : known) {
    const json meta = object.value("metadata", json::object());
    printed_versions[meta.value("namespace", std::string()) + "/" + meta.value("name", std::string())] =
        meta.value("resourceVersion", std::string());
  }
  const auto wanted = [&opts](const json& object) {
    if (opts.names.empty()) {
      return true;
    }
    const std::string name = object.value("metadata", json::object()).value("name", std::string());
    return std::find(opts.names.begin(), opts.names.end(), name) != opts.names.end();
  };
  const auto show = [&](const json& object) {
    const json meta = object.value("metadata", json::object());
    printed_versions[meta.value("namespace", std::string()) + "/" + meta.value("name", std::string())] =
        meta.value("resourceVersion", std::string());
    const bool yaml_separator = opts.output == "yaml" && headers_printed;
    if (yaml_separator) {
      ctx.io.out << "---\n";
    }
    const int code = print_items(ctx, printer, {object}, true, !headers_printed);
    headers_printed = true;
    ctx.io.out << std::flush;
    return code == k_exit_ok;
  };
  kube::WatchOptions options;
  options.label_selector = opts.selector;
  if (opts.names.size() == 1) {
    options.field_selector = "metadata.name=" + opts.names.front();
  }
  options.timeout_seconds = 300;
  while (!bridge.token().stop_requested()) {
    options.resource_version = resource_version;
    bool failed = false;
    auto result = kube::watch(
        client, gvr, ns, options,
        [&](const kube::WatchEvent& event) {
          if (wanted(event.object) && !show(event.object)) {
            failed = true;
            return false;
          }
          return true;
        },
        bridge.token());
    if (failed) {
      return k_exit_error;
    }
    if (bridge.token().stop_requested()) {
      break;
    }
    if (result) {
      resource_version = *result;
      continue;
    }
    if (kube::is_gone(result.error())) {
      kube::ListOptions list_options;
      list_options.label_selector = opts.selector;
      list_options.field_selector = options.field_selector;
      auto list = client.list_all(gvr, ns, list_options);
      if (list) {
        for (const auto& item : list->value("items", json::array())) {
          const json meta = item.value("metadata", json::object());
          const auto key = meta.value("namespace", std::string()) + "/" + meta.value("name", std::string());
          if (wanted(item) && printed_versions[key] != meta.value("resourceVersion", std::string())) {
            show(item);
          }
        }
        resource_version = (*list)["metadata"].value("resourceVersion", std::string());
        continue;
      }
      result = std::move(list).error();
    }
    const Error& error = result.error();
    if (error.code() != ErrorCode::transport && error.http_status() < 500 && error.http_status() != 429) {
      print_error(ctx.io.err, error);
      return exit_code_for(error);
    }
    if (!ctx.cancel.wait_for(std::chrono::seconds(1))) {
      break;
    }
  }
  return k_exit_ok;
}

int run_get(Context& ctx, const GetOptions& opts) {
  // kubectl's rules for names: they select exactly, so a selector or "every namespace" makes no sense.
  if (!opts.names.empty() && !opts.selector.empty()) {
    throw Failure(Error(ErrorCode::usage, "name cannot be provided when a selector is specified"));
  }
  if (!opts.names.empty() && opts.all_namespaces) {
    throw Failure(Error(ErrorCode::usage, "a resource cannot be retrieved by name across all namespaces"));
  }
  Printer printer;
  printer.opts = &opts;
  if (auto spec = jsonpath_template(opts.output)) {
    auto parsed = model::JsonPath::parse(*spec);
    if (!parsed) {
      print_error(ctx.io.err, parsed.error());
      return exit_code_for(parsed.error());
    }
    printer.jsonpath = std::move(parsed).value();
  } else if (auto columns = custom_columns_spec(opts.output)) {
    auto parsed = parse_custom_columns(*columns);
    if (!parsed) {
      print_error(ctx.io.err, parsed.error());
      return exit_code_for(parsed.error());
    }
    printer.columns = std::move(parsed).value();
  }
  auto client = connect(ctx);
  if (!client) {
    print_error(ctx.io.err, client.error());
    return exit_code_for(client.error());
  }
  const auto gvr = kube::resources::gpu_workloads();
  const std::string ns = opts.all_namespaces ? std::string() : (*client)->config().namespace_name;

  if (!opts.names.empty()) {
    std::vector<json> found;
    int code = k_exit_ok;
    std::string resource_version;
    for (const auto& name : opts.names) {
      auto object = (*client)->get(gvr, ns, name);
      if (!object) {
        Error error = is_missing_type(object.error()) ? explain_missing_type(std::move(object).error())
                                                      : std::move(object).error();
        print_error(ctx.io.err, error);
        code = exit_code_for(error);
        continue;
      }
      found.push_back(std::move(object).value());
    }
    if (opts.watch || opts.watch_only) {
      if (code != k_exit_ok) {
        return code;
      }
      if (!opts.watch_only) {
        print_items(ctx, printer, found, opts.names.size() == 1);
        ctx.io.out << std::flush;
      }
      // Watch from the oldest version read, so that no change after it is missed.
      for (const auto& object : found) {
        const auto rv = object["metadata"].value("resourceVersion", std::string());
        if (resource_version.empty() ||
            (rv.size() < resource_version.size() || (rv.size() == resource_version.size() && rv < resource_version))) {
          resource_version = rv;
        }
      }
      return watch_items(ctx, **client, printer, ns, resource_version, !opts.watch_only, found);
    }
    if (!found.empty()) {
      print_items(ctx, printer, found, opts.names.size() == 1);
    }
    return code;
  }

  kube::ListOptions list_options;
  list_options.label_selector = opts.selector;
  list_options.limit = 500;
  auto list = (*client)->list_all(gvr, ns, list_options);
  if (!list) {
    Error error = explain_missing_type(std::move(list).error());
    print_error(ctx.io.err, error);
    return exit_code_for(error);
  }
  std::vector<json> items;
  if (auto it = list->find("items"); it != list->end() && it->is_array()) {
    for (auto& item : *it) {
      items.push_back(std::move(item));
    }
  }
  const std::string list_version = (*list)["metadata"].value("resourceVersion", std::string());
  if (opts.watch_only) {
    return watch_items(ctx, **client, printer, ns, list_version, false, items);
  }
  // Only kubectl's tables say so; -o name|jsonpath print nothing, custom-columns just the header.
  if (items.empty() && (opts.output.empty() || opts.output == "wide")) {
    if (opts.all_namespaces) {
      ctx.io.err << "No resources found\n";
    } else {
      ctx.io.err << "No resources found in " << ns << " namespace.\n";
    }
    if (!opts.watch) {
      return k_exit_ok;
    }
    return watch_items(ctx, **client, printer, ns, list_version, false, items);
  }
  const int code = print_items(ctx, printer, items, false);
  if (!opts.watch || code != k_exit_ok) {
    return code;
  }
  ctx.io.out << std::flush;
  return watch_items(ctx, **client, printer, ns, list_version, true, items);
}

}  // namespace

void setup_get(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<GetOptions>();
  auto* cmd = root.add_subcommand("get", "List GPUWorkloads, or show the named ones");
  register_completer(
      ctx, cmd->add_option("NAME", opts->names, "Names of GPUWorkloads to show (all in the namespace when none)"),
      complete_workload_names);
  cmd->add_flag("-A,--all-namespaces", opts->all_namespaces, "List GPUWorkloads across all namespaces");
  cmd->add_option("-l,--selector", opts->selector, "Label selector to filter on, e.g. team=ml,tier!=batch")
      ->type_name("SELECTOR");
  cmd->add_option("-o,--output", opts->output,
                  "Output format: wide, json, yaml, name, jsonpath=TEMPLATE or custom-columns=SPEC")
      ->type_name("FORMAT")
      ->check(output_format_check({"wide", "json", "yaml", "name"}));
  cmd->add_flag("--no-headers", opts->no_headers, "Do not print the table's header line");
  cmd->add_flag("-w,--watch", opts->watch, "After listing, print each change to the listed GPUWorkloads");
  cmd->add_flag("--watch-only", opts->watch_only, "Print changes only, without listing first");
  cmd->add_flag("--show-managed-fields", opts->show_managed_fields,
                "Keep metadata.managedFields in -o json and -o yaml output");
  cmd->callback([&ctx, opts] {
    ctx.cooperative_cancel = opts->watch || opts->watch_only;
    ctx.run = [&ctx, opts] { return run_get(ctx, *opts); };
  });
}

}  // namespace gpuorch::cli
