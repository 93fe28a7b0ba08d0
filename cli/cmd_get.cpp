#include <chrono>
#include <memory>
#include <ostream>

#include <gpuorch/kube/client.hpp>
#include <gpuorch/model/workload.hpp>
#include <gpuorch/model/yaml.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "kube_completion.hpp"
#include "kube_connect.hpp"
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

int print_items(Context& ctx, const GetOptions& opts, const std::vector<json>& items, bool single) {
  if (opts.output == "json" || opts.output == "yaml") {
    json document;
    if (single && items.size() == 1) {
      document = items.front();
    } else {
      document = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}, {"metadata", {{"resourceVersion", ""}}}};
    }
    if (opts.output == "json") {
      ctx.io.out << document.dump(4) << '\n';
    } else {
      ctx.io.out << model::to_yaml(document);
    }
    return k_exit_ok;
  }
  if (opts.output == "name") {
    for (const auto& item : items) {
      ctx.io.out << model::k_workload_singular << '.' << model::k_group << '/'
                 << item["metadata"].value("name", std::string()) << '\n';
    }
    return k_exit_ok;
  }
  TableOptions table;
  table.wide = opts.output == "wide";
  table.with_namespace = opts.all_namespaces;
  table.no_headers = opts.no_headers;
  table.now = std::chrono::system_clock::now();
  print_workload_table(ctx.io.out, items, table);
  return k_exit_ok;
}

int run_get(Context& ctx, const GetOptions& opts) {
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
    if (!found.empty()) {
      print_items(ctx, opts, found, opts.names.size() == 1);
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
  if (items.empty() && opts.output != "json" && opts.output != "yaml") {
    if (opts.all_namespaces) {
      ctx.io.err << "No resources found\n";
    } else {
      ctx.io.err << "No resources found in " << ns << " namespace.\n";
    }
    return k_exit_ok;
  }
  return print_items(ctx, opts, items, false);
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
  cmd->add_option("-o,--output", opts->output, "Output format: wide, json, yaml or name")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"wide", "json", "yaml", "name"}));
  cmd->add_flag("--no-headers", opts->no_headers, "Do not print the table's header line");
  cmd->callback([&ctx, opts] { ctx.run = [&ctx, opts] { return run_get(ctx, *opts); }; });
}

}  // namespace gpuorch::cli
