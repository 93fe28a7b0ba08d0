#include <gpuorch/model/manifest.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gpuorch/model/workload.hpp>

namespace gpuorch::model {
namespace {

using nlohmann::json;

class LocalFileSystem final : public FileSystem {
 public:
  [[nodiscard]] Kind kind(const std::string& path) const override {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec || status.type() == std::filesystem::file_type::not_found) {
      return Kind::missing;
    }
    if (status.type() == std::filesystem::file_type::directory) {
      return Kind::directory;
    }
    if (status.type() == std::filesystem::file_type::regular) {
      return Kind::file;
    }
    return Kind::other;
  }

  [[nodiscard]] Result<std::string> read(const std::string& path) const override {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      return Error(ErrorCode::io, fmt::format("cannot read \"{}\": {}", path, std::strerror(errno)));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
      return Error(ErrorCode::io, fmt::format("cannot read \"{}\"", path));
    }
    return text.str();
  }

  [[nodiscard]] Result<std::vector<std::string>> list(const std::string& directory) const override {
    std::vector<std::string> names;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
      names.push_back(it->path().filename().string());
    }
    if (ec) {
      return Error(ErrorCode::io, fmt::format("cannot list \"{}\": {}", directory, ec.message()));
    }
    return names;
  }
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_manifest_name(std::string_view name) {
  return !name.empty() && name[0] != '.' &&
         (ends_with(name, ".yaml") || ends_with(name, ".yml") || ends_with(name, ".json"));
}

std::string join_path(const std::string& directory, const std::string& name) {
  if (!directory.empty() && directory.back() == '/') {
    return directory + name;
  }
  return directory + "/" + name;
}

bool looks_like_json(const ManifestSource& source) {
  if (ends_with(source.name, ".json")) {
    return true;
  }
  const auto first = source.text.find_first_not_of(" \t\r\n");
  return first != std::string::npos && (source.text[first] == '{' || source.text[first] == '[');
}

SourcePosition position_at_byte(std::string_view text, std::size_t byte) {
  SourcePosition p{1, 1};
  for (std::size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++p.line;
      p.column = 1;
    } else {
      ++p.column;
    }
  }
  return p;
}

Error malformed(const ManifestSource& source, SourcePosition at, const std::string& message) {
  const std::string location = fmt::format("{}:{}:{}", source.name, at.line, at.column);
  return Error(ErrorCode::invalid, fmt::format("{}: {}", location, message))
      .with_causes({FieldCause{{}, message, location, {}}});
}

// "file:7:13" -> {7, 13}; {0, 0} without a position.
SourcePosition parse_location(const std::string& location) {
  const auto last = location.rfind(':');
  if (last == std::string::npos) {
    return {};
  }
  const auto previous = location.rfind(':', last - 1);
  if (previous == std::string::npos || last == 0) {
    return {};
  }
  try {
    return {std::stoi(location.substr(previous + 1, last - previous - 1)), std::stoi(location.substr(last + 1))};
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace

const FileSystem& local_file_system() {
  static const LocalFileSystem fs;
  return fs;
}

std::vector<ManifestInput> read_manifest_inputs(const std::vector<std::string>& arguments, const FileSystem& fs,
                                                const std::function<Result<std::string>()>& read_stdin) {
  std::vector<ManifestInput> inputs;
  bool stdin_used = false;
  for (const auto& argument : arguments) {
    ManifestInput input;
    input.argument = argument;
    if (argument == "-") {
      if (stdin_used) {
        input.error = Error(ErrorCode::usage, "standard input (-) can only be read once");
      } else {
        stdin_used = true;
        auto text = read_stdin ? read_stdin() : Result<std::string>(Error(ErrorCode::io, "no standard input"));
        if (text.ok()) {
          input.sources.push_back({std::string(k_stdin_name), std::move(text).value()});
        } else {
          input.error = std::move(text).error();
        }
      }
      inputs.push_back(std::move(input));
      continue;
    }
    switch (fs.kind(argument)) {
      case FileSystem::Kind::missing:
        input.error = Error(ErrorCode::config, fmt::format("the path \"{}\" does not exist", argument));
        break;
      case FileSystem::Kind::other:
        input.error =
            Error(ErrorCode::config, fmt::format("the path \"{}\" is not a regular file or a directory", argument));
        break;
      case FileSystem::Kind::file: {
        auto text = fs.read(argument);
        if (text.ok()) {
          input.sources.push_back({argument, std::move(text).value()});
        } else {
          input.error = std::move(text).error();
        }
        break;
      }
      case FileSystem::Kind::directory: {
        auto names = fs.list(argument);
        if (!names.ok()) {
          input.error = std::move(names).error();
          break;
        }
        std::vector<std::string> manifests;
        for (const auto& name : *names) {
          if (is_manifest_name(name) && fs.kind(join_path(argument, name)) == FileSystem::Kind::file) {
            manifests.push_back(name);
          }
        }
        std::sort(manifests.begin(), manifests.end());
        if (manifests.empty()) {
          input.error = Error(ErrorCode::config,
                              fmt::format("no manifests (*.yaml, *.yml, *.json) in directory \"{}\"", argument));
          break;
        }
        for (const auto& name : manifests) {
          const std::string path = join_path(argument, name);
          auto text = fs.read(path);
          if (!text.ok()) {
            input.error = std::move(text).error();
            break;
          }
          input.sources.push_back({path, std::move(text).value()});
        }
        break;
      }
    }
    inputs.push_back(std::move(input));
  }
  return inputs;
}

std::string ManifestDocument::locate(const nlohmann::json::json_pointer& pointer, bool key) const {
  SourcePosition at;
  if (positions) {
    at = positions->nearest(base / pointer, key);
  }
  if (at.line == 0) {
    at = start;
  }
  if (at.line == 0) {
    return source;
  }
  return fmt::format("{}:{}:{}", source, at.line, at.column);
}

Result<std::vector<ManifestDocument>> parse_manifest(const ManifestSource& source) {
  std::optional<json> strict_json;
  if (looks_like_json(source)) {
    try {
      strict_json = json::parse(source.text);
    } catch (const json::parse_error& e) {
      // nlohmann: "[json.exception.parse_error.101] parse error at line 3, column 5: <what>"
      std::string what = e.what();
      const auto column = what.find("column ");
      const auto colon = what.find(": ", column == std::string::npos ? 0 : column);
      if (colon != std::string::npos) {
        what = what.substr(colon + 2);
      }
      const std::size_t byte = e.byte == 0 ? 0 : e.byte - 1;
      return malformed(source, position_at_byte(source.text, byte), "malformed JSON: " + what);
    }
  }

  std::vector<YamlDocument> parsed;
  auto yaml = parse_yaml_stream(source.text);
  if (yaml.ok()) {
    parsed = std::move(yaml).value();
  } else if (strict_json) {
    // Valid JSON that yaml-cpp cannot read (rare: e.g. tab indentation): keep the value, lose positions.
    YamlDocument doc;
    doc.value = std::move(*strict_json);
    doc.start = {1, 1};
    parsed.push_back(std::move(doc));
  } else {
    const FieldCause& cause = yaml.error().causes().at(0);
    const SourcePosition at = parse_location("x:" + cause.location);
    return malformed(source, at, cause.message);
  }

  std::vector<ManifestDocument> documents;
  for (auto& doc : parsed) {
    auto positions = std::make_shared<const SourceMap>(std::move(doc.positions));
    const json& value = doc.value;
    const bool is_list = value.is_object() && value.value("kind", json()) == "List" && value.contains("items") &&
                         value["items"].is_array();
    if (is_list) {
      for (std::size_t i = 0; i < value["items"].size(); ++i) {
        ManifestDocument item;
        item.source = source.name;
        item.index = documents.size();
        item.base = json::json_pointer("/items") / i;
        item.start = positions->value(item.base).value_or(doc.start);
        item.value = value["items"][i];
        item.positions = positions;
        documents.push_back(std::move(item));
      }
      continue;
    }
    ManifestDocument single;
    single.source = source.name;
    single.index = documents.size();
    single.start = doc.start;
    single.value = std::move(doc.value);
    single.positions = positions;
    documents.push_back(std::move(single));
  }
  return documents;
}

ManifestResult validate_manifest(const ManifestDocument& document, std::size_t documents_in_source) {
  ManifestResult result;
  result.source = document.source;
  result.index = document.index;
  result.documents_in_source = documents_in_source;
  result.start = document.start;
  if (document.value.is_object()) {
    if (const auto kind = document.value.find("kind"); kind != document.value.end() && kind->is_string()) {
      result.kind = kind->get<std::string>();
    }
    const auto name = json::json_pointer("/metadata/name");
    if (document.value.contains(name) && document.value.at(name).is_string()) {
      result.name = document.value.at(name).get<std::string>();
    }
  }
  ValidateOptions options;
  options.locate = [&document](const json::json_pointer& pointer, MarkTarget target) {
    return document.locate(pointer, target == MarkTarget::key);
  };
  result.causes = validate_workload(document.value, options);
  std::stable_sort(result.causes.begin(), result.causes.end(), [](const FieldCause& a, const FieldCause& b) {
    return parse_location(a.location) < parse_location(b.location);
  });
  return result;
}

std::vector<ManifestResult> validate_manifest_inputs(const std::vector<ManifestInput>& inputs) {
  std::vector<ManifestResult> results;
  for (const auto& input : inputs) {
    if (input.error) {
      ManifestResult failed;
      failed.source = input.argument;
      failed.input_error = true;
      failed.causes.push_back(FieldCause{{}, input.error->message(), {}, {}});
      results.push_back(std::move(failed));
      continue;
    }
    for (const auto& source : input.sources) {
      auto documents = parse_manifest(source);
      if (!documents.ok()) {
        ManifestResult failed;
        failed.source = source.name;
        failed.causes = documents.error().causes();
        results.push_back(std::move(failed));
        continue;
      }
      if (documents->empty()) {
        ManifestResult empty;
        empty.source = source.name;
        empty.causes.push_back(
            FieldCause{{}, "no objects found (the input is empty or only has comments)", source.name, {}});
        results.push_back(std::move(empty));
        continue;
      }
      for (const auto& document : *documents) {
        results.push_back(validate_manifest(document, documents->size()));
      }
    }
  }
  return results;
}

}  // namespace gpuorch::model
