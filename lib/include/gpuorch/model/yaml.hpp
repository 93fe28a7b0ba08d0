#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::model {

/// A 1-based line and column in a source text.
struct SourcePosition {
  int line = 0;
  int column = 0;
  friend bool operator==(const SourcePosition&, const SourcePosition&) = default;
  friend auto operator<=>(const SourcePosition&, const SourcePosition&) = default;
};

/// Where every key and value of a parsed document came from, by JSON Pointer.
class SourceMap {
 public:
  void add(const nlohmann::json::json_pointer& pointer, SourcePosition key, SourcePosition value);
  /// The position of the key that names the pointed-to field (for arrays and
  /// the root: the value), or nullopt when the pointer is not in the document.
  [[nodiscard]] std::optional<SourcePosition> key(const nlohmann::json::json_pointer& pointer) const;
  /// The position of the pointed-to value.
  [[nodiscard]] std::optional<SourcePosition> value(const nlohmann::json::json_pointer& pointer) const;
  /// The position of the pointer or of its nearest ancestor present in the document.
  [[nodiscard]] SourcePosition nearest(nlohmann::json::json_pointer pointer, bool want_key) const;
  [[nodiscard]] std::size_t size() const { return m_entries.size(); }

 private:
  std::unordered_map<std::string, std::pair<SourcePosition, SourcePosition>> m_entries;
};

/// One document of a YAML stream, converted to JSON.
struct YamlDocument {
  nlohmann::json value;
  SourceMap positions;
  SourcePosition start;  ///< position of the document's root node
};

/// Parses a stream of YAML documents (JSON is accepted too: it is YAML).
/// Plain scalars resolve with the YAML 1.2 core schema (true/false, null and ~,
/// decimal, 0x and 0o integers, floats); quoted and block scalars are strings.
/// Empty documents are skipped. Duplicate keys are errors, as in kubectl.
/// Errors are ErrorCode::invalid with one cause whose location is "line:column"
/// and whose message starts with "malformed YAML: ".
Result<std::vector<YamlDocument>> parse_yaml_stream(std::string_view text);

/// Block-style YAML like `kubectl get -o yaml`: keys in the JSON object's
/// order, sequences not indented under their key, strings quoted only when a
/// YAML reader would take them for something else ("8", "true", "1e3", ...).
std::string to_yaml(const nlohmann::json& value);

/// Several values as one YAML stream separated by "---" lines.
std::string to_yaml_stream(const std::vector<nlohmann::json>& values);

}  // namespace gpuorch::model
