#include "workload_io.hpp"

#include <ostream>
#include <sstream>

#include <gpuorch/model/workload.hpp>
#include <gpuorch/model/yaml.hpp>

#include "context.hpp"

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

void print_objects(std::ostream& out, const std::vector<nlohmann::json>& objects, std::string_view format, bool single,
                   bool show_managed_fields) {
  std::vector<nlohmann::json> shown = objects;
  if (!show_managed_fields) {
    // Server-side apply bookkeeping: kubectl leaves it out of -o json|yaml too.
    for (auto& object : shown) {
      if (auto meta = object.find("metadata"); meta != object.end() && meta->is_object()) {
        meta->erase("managedFields");
      }
    }
  }
  nlohmann::json document;
  if (single && shown.size() == 1) {
    document = std::move(shown.front());
  } else {
    document = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", shown}, {"metadata", {{"resourceVersion", ""}}}};
  }
  if (format == "json") {
    out << document.dump(4) << '\n';
  } else {
    out << model::to_yaml(document);
  }
}

bool for_each_manifest_document(Context& ctx, const std::vector<std::string>& filenames,
                                const std::function<void(const model::ManifestDocument&, std::size_t)>& on_document) {
  const auto read_stdin = [&ctx]() -> Result<std::string> {
    std::ostringstream text;
    text << ctx.io.in.rdbuf();
    return text.str();
  };
  bool ok = true;
  for (const auto& input : model::read_manifest_inputs(filenames, model::local_file_system(), read_stdin)) {
    if (input.error) {
      ctx.io.err << "error: " << input.error->message() << '\n';
      ok = false;
      continue;
    }
    for (const auto& source : input.sources) {
      auto documents = model::parse_manifest(source);
      if (!documents) {
        for (const auto& cause : documents.error().causes()) {
          ctx.io.err << cause.to_string() << '\n';
        }
        if (documents.error().causes().empty()) {
          ctx.io.err << "error: " << documents.error().message() << '\n';
        }
        ok = false;
        continue;
      }
      for (const auto& document : *documents) {
        on_document(document, documents->size());
      }
    }
  }
  return ok;
}

}  // namespace gpuorch::cli
