#include "workload_io.hpp"

#include <ostream>

#include <gpuorch/model/workload.hpp>
#include <gpuorch/model/yaml.hpp>

namespace gpuorch::cli {

std::string object_reference(std::string_view name) {
  std::string out(model::k_workload_singular);
  out += '.';
  out += model::k_group;
  out += '/';
  out += name;
  return out;
}

std::string quoted_reference(std::string_view name) {
  std::string out(model::k_workload_singular);
  out += '.';
  out += model::k_group;
  out += " \"";
  out += name;
  out += '"';
  return out;
}

std::string_view dry_run_suffix(std::string_view dry_run) {
  if (dry_run == "client") {
    return " (dry run)";
  }
  if (dry_run == "server") {
    return " (server dry run)";
  }
  return "";
}

void print_objects(std::ostream& out, const std::vector<nlohmann::json>& objects, std::string_view format,
                   bool single) {
  nlohmann::json document;
  if (single && objects.size() == 1) {
    document = objects.front();
  } else {
    document = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", objects}, {"metadata", {{"resourceVersion", ""}}}};
  }
  if (format == "json") {
    out << document.dump(4) << '\n';
  } else {
    out << model::to_yaml(document);
  }
}

}  // namespace gpuorch::cli
