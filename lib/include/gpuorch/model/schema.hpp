#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/base/error.hpp>
#include <gpuorch/base/result.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::model {

/// Which part of a field a problem is reported at: the key that names it (an
/// unknown field) or its value (a bad number, a missing required child).
enum class MarkTarget { key, value };

/// Maps a JSON Pointer into the validated document to a source location
/// ("job.yaml:7:13"), or "" when unknown. Lets validation of data parsed from
/// YAML report file positions without the schema knowing about files.
using Locator = std::function<std::string(const nlohmann::json::json_pointer& pointer, MarkTarget target)>;

struct ValidateOptions {
  /// Fields that the schema does not declare are errors (`kubectl --validate=strict`).
  /// When false they are accepted silently (the API server prunes them).
  bool reject_unknown_fields = true;
  /// When false only types (and unknown fields) are checked: bounds, enums,
  /// lengths, patterns and required fields are not. Decoders use this to read
  /// objects that are well-typed but would not pass validation.
  bool check_constraints = true;
  /// Field path of the validated value inside its document ("" for the root, "spec", ...).
  std::string path;
  /// JSON Pointer of the validated value inside its document (for `locate`).
  nlohmann::json::json_pointer pointer = nlohmann::json::json_pointer("");
  /// Optional: fills FieldCause::location.
  Locator locate;
};

/// A structural OpenAPI v3 schema, the subset Kubernetes CustomResourceDefinitions
/// use (apiextensions.k8s.io/v1 JSONSchemaProps). It validates and defaults
/// JSON values the way the API server does, and converts to and from the
/// OpenAPI JSON that a CRD carries. Keywords it does not enforce (anyOf,
/// x-kubernetes-validations, ...) are kept verbatim in `extensions` so that a
/// schema read from a CRD is written back unchanged.
///
/// Field paths in causes use Kubernetes' notation: `spec.gpuCount`,
/// `spec.tolerations[0].key`, `spec.nodeSelector[gpu]`.
struct Schema {
  /// "object", "array", "string", "integer", "number", "boolean", or "" (any).
  std::string type;
  /// OpenAPI format; "int32", "int64" and "date-time" are enforced.
  std::string format;
  std::string description;

  /// Declared properties of an object (sorted, as the API server emits them).
  std::map<std::string, Schema> properties;
  /// Names of properties that must be present.
  std::vector<std::string> required;
  /// Element schema of an array.
  std::shared_ptr<const Schema> items;
  /// Value schema of a map-like object (additionalProperties: {...}).
  std::shared_ptr<const Schema> additional_properties;

  /// Allowed values (any JSON values; compared exactly).
  std::vector<nlohmann::json> enum_values;
  std::optional<double> minimum;
  std::optional<double> maximum;
  bool exclusive_minimum = false;
  bool exclusive_maximum = false;
  std::optional<std::int64_t> min_length;
  std::optional<std::int64_t> max_length;
  std::optional<std::int64_t> min_items;
  std::optional<std::int64_t> max_items;
  /// ECMAScript regular expression a string must match (searched, like Go's regexp).
  std::string pattern;
  std::optional<nlohmann::json> default_value;
  bool nullable = false;

  /// x-kubernetes-preserve-unknown-fields: undeclared fields are kept and not checked.
  bool preserve_unknown_fields = false;
  /// x-kubernetes-int-or-string: an integer or a string (quantities, ports).
  bool int_or_string = false;
  /// x-kubernetes-embedded-resource: the value is a whole object with apiVersion/kind/metadata.
  bool embedded_resource = false;
  /// x-kubernetes-list-type ("atomic", "set", "map") and x-kubernetes-list-map-keys.
  std::string list_type;
  std::vector<std::string> list_map_keys;
  /// x-kubernetes-map-type ("atomic", "granular").
  std::string map_type;

  /// Any other keyword, emitted unchanged and not enforced.
  nlohmann::json extensions = nlohmann::json::object();

  // ---- building ---------------------------------------------------------------

  static Schema object(std::string description = {});
  static Schema string(std::string description = {});
  /// A string with `format: date-time` (metav1.Time in RFC 3339).
  static Schema date_time(std::string description = {});
  static Schema integer(std::string description = {}, std::string format = "int32");
  static Schema number(std::string description = {});
  static Schema boolean(std::string description = {});
  static Schema array_of(Schema items, std::string description = {});
  static Schema map_of(Schema values, std::string description = {});

  /// Adds a property; `is_required` also lists it in `required`.
  Schema& property(const std::string& name, Schema schema, bool is_required = false);
  Schema& with_default(nlohmann::json value);
  Schema& with_enum(std::vector<nlohmann::json> values);
  Schema& with_minimum(double value, bool exclusive = false);
  Schema& with_maximum(double value, bool exclusive = false);
  Schema& with_length(std::optional<std::int64_t> min, std::optional<std::int64_t> max);
  Schema& with_pattern(std::string regex);

  // ---- OpenAPI JSON -----------------------------------------------------------

  /// Reads an OpenAPI v3 schema object (a CRD's openAPIV3Schema). Fails
  /// (ErrorCode::invalid, causes with field paths) on malformed keywords.
  static Result<Schema> from_openapi(const nlohmann::json& json);
  /// The OpenAPI v3 JSON of this schema; from_openapi(to_openapi()) == *this.
  [[nodiscard]] nlohmann::json to_openapi() const;

  // ---- using it ---------------------------------------------------------------

  /// Every way `value` breaks the schema, in document order. Messages look like
  /// `must be >= 1, got 0`, `unknown field "gpuCnt"`, `required field is missing`.
  [[nodiscard]] std::vector<FieldCause> validate(const nlohmann::json& value,
                                                 const ValidateOptions& options = ValidateOptions()) const;

  /// Fills absent (or null, when not nullable) properties that have defaults,
  /// recursively, as the API server does before validation.
  void apply_defaults(nlohmann::json& value) const;

  /// Removes fields the schema does not declare (API server pruning); keeps
  /// everything under x-kubernetes-preserve-unknown-fields.
  void prune(nlohmann::json& value) const;

  /// The schema of the property at `path` ("spec.gpuCount"), or nullptr.
  [[nodiscard]] const Schema* find(std::string_view dotted_path) const;

  friend bool operator==(const Schema& a, const Schema& b);
};

/// Kubernetes field-path notation for a child field ("spec" + "gpuCount" -> "spec.gpuCount").
std::string field_path_child(std::string_view parent, std::string_view name);
/// ... for an array element ("spec.env", 2 -> "spec.env[2]").
std::string field_path_index(std::string_view parent, std::size_t index);
/// ... for a map entry ("spec.nodeSelector", "gpu" -> "spec.nodeSelector[gpu]").
std::string field_path_key(std::string_view parent, std::string_view key);

/// A cause for `path` whose location comes from `options.locate` (when set).
/// For checks outside the schema that must report positions like it does.
FieldCause located_cause(const ValidateOptions& options, std::string path, std::string message, std::string_view reason,
                         const nlohmann::json::json_pointer& pointer, MarkTarget target);

/// Compact JSON text of a value for messages; invalid UTF-8 (which YAML input
/// can carry) is replaced instead of throwing.
std::string json_text(const nlohmann::json& value);

/// How a JSON value reads in an error message: `"four"`, `1.5`, `an object`, `null`.
std::string describe_json_value(const nlohmann::json& value);

}  // namespace gpuorch::model
