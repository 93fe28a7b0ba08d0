#include <gpuorch/model/schema.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <regex>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <gpuorch/model/pattern.hpp>
#include <gpuorch/model/time.hpp>

namespace gpuorch::model {
namespace {

using nlohmann::json;

// Cause types of metav1.StatusCause, so local and server errors read alike.
constexpr std::string_view k_reason_required = "FieldValueRequired";
constexpr std::string_view k_reason_invalid = "FieldValueInvalid";
constexpr std::string_view k_reason_type = "FieldValueTypeInvalid";
constexpr std::string_view k_reason_not_supported = "FieldValueNotSupported";
constexpr std::string_view k_reason_duplicate = "FieldValueDuplicate";
constexpr std::string_view k_reason_too_long = "FieldValueTooLong";
constexpr std::string_view k_reason_unknown = "FieldValueUnknown";

// Regular expressions are compiled once per pattern and process.
const std::regex* compiled(const std::string& pattern) {
  static std::mutex mutex;
  static std::unordered_map<std::string, std::unique_ptr<std::regex>> cache;
  const std::lock_guard lock(mutex);
  auto it = cache.find(pattern);
  if (it == cache.end()) {
    std::unique_ptr<std::regex> re;
    try {
      re = std::make_unique<std::regex>(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      re = nullptr;
    }
    it = cache.emplace(pattern, std::move(re)).first;
  }
  return it->second.get();
}

// regex_search semantics; an uncompilable pattern matches everything (from_openapi
// rejects those, so only hand-built schemas can carry one).
bool matches_pattern(const std::string& pattern, const std::string& value) {
  if (const PatternMatcher matcher = builtin_pattern_matcher(pattern)) {
    return matcher(value);
  }
  const std::regex* re = compiled(pattern);
  return re == nullptr || std::regex_search(value, *re);
}

std::string format_number(double v) {
  if (std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9.0e15) {
    return fmt::format("{}", static_cast<long long>(v));
  }
  return fmt::format("{}", v);
}

bool is_integral(const json& v) {
  if (v.is_number_integer()) {
    return true;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

std::string_view article_type(std::string_view type) {
  if (type == "object") {
    return "an object";
  }
  if (type == "array") {
    return "an array";
  }
  if (type == "string") {
    return "a string";
  }
  if (type == "integer") {
    return "an integer";
  }
  if (type == "number") {
    return "a number";
  }
  if (type == "boolean") {
    return "a boolean";
  }
  return type;
}

std::size_t utf8_length(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
}

std::string plural(std::int64_t n, std::string_view word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

std::string joined_enum(const std::vector<json>& values) {
  std::string out;
  for (const auto& v : values) {
    if (!out.empty()) {
      out += ", ";
    }
    out += json_text(v);
  }
  return out;
}

// `additionalProperties: true` (kept in extensions) allows any undeclared field.
bool allows_any_field(const Schema& s) {
  return s.preserve_unknown_fields || s.extensions.value("additionalProperties", json()) == json(true);
}

class Validator {
 public:
  explicit Validator(const ValidateOptions& options) : m_options(options) {}

  void check(const Schema& s, const json& v, const std::string& path, const json::json_pointer& ptr) {
    if (v.is_null()) {
      if (s.nullable || (s.type.empty() && !s.int_or_string)) {
        return;
      }
    }
    if (!check_type(s, v, path, ptr)) {
      return;
    }
    if (!m_options.check_constraints) {
      if (v.is_array() && s.items) {
        for (std::size_t i = 0; i < v.size(); ++i) {
          check(*s.items, v[i], field_path_index(path, i), ptr / i);
        }
      } else if (v.is_object()) {
        check_object(s, v, path, ptr);
      }
      return;
    }
    if (!s.enum_values.empty() && std::find(s.enum_values.begin(), s.enum_values.end(), v) == s.enum_values.end()) {
      add(path, fmt::format("must be one of {}, got {}", joined_enum(s.enum_values), describe_json_value(v)),
          k_reason_not_supported, ptr, MarkTarget::value);
      return;
    }
    if (v.is_number()) {
      check_number(s, v, path, ptr);
    } else if (v.is_string()) {
      check_string(s, v.get_ref<const std::string&>(), path, ptr);
    } else if (v.is_array()) {
      check_array(s, v, path, ptr);
    } else if (v.is_object()) {
      check_object(s, v, path, ptr);
    }
  }

  std::vector<FieldCause> take() { return std::move(m_causes); }

 private:
  void add(const std::string& path, std::string message, std::string_view reason, const json::json_pointer& ptr,
           MarkTarget target) {
    m_causes.push_back(located_cause(m_options, path, std::move(message), reason, ptr, target));
  }

  bool check_type(const Schema& s, const json& v, const std::string& path, const json::json_pointer& ptr) {
    if (s.int_or_string) {
      if (is_integral(v) || v.is_string()) {
        return true;
      }
      add(path, fmt::format("must be an integer or a string, got {}", describe_json_value(v)), k_reason_type, ptr,
          MarkTarget::value);
      return false;
    }
    bool ok = true;
    if (s.type == "object") {
      ok = v.is_object();
    } else if (s.type == "array") {
      ok = v.is_array();
    } else if (s.type == "string") {
      ok = v.is_string();
    } else if (s.type == "integer") {
      ok = is_integral(v);
    } else if (s.type == "number") {
      ok = v.is_number();
    } else if (s.type == "boolean") {
      ok = v.is_boolean();
    }
    if (!ok) {
      add(path, fmt::format("must be {}, got {}", article_type(s.type), describe_json_value(v)), k_reason_type, ptr,
          MarkTarget::value);
    }
    return ok;
  }

  void check_number(const Schema& s, const json& v, const std::string& path, const json::json_pointer& ptr) {
    const double d = v.get<double>();
    const std::string got = json_text(v);
    if (s.format == "int32" &&
        (d < std::numeric_limits<std::int32_t>::min() || d > std::numeric_limits<std::int32_t>::max())) {
      add(path, fmt::format("must fit in a 32-bit integer, got {}", got), k_reason_invalid, ptr, MarkTarget::value);
      return;
    }
    if (s.minimum) {
      const bool below = s.exclusive_minimum ? d <= *s.minimum : d < *s.minimum;
      if (below) {
        add(path,
            fmt::format("must be {} {}, got {}", s.exclusive_minimum ? ">" : ">=", format_number(*s.minimum), got),
            k_reason_invalid, ptr, MarkTarget::value);
      }
    }
    if (s.maximum) {
      const bool above = s.exclusive_maximum ? d >= *s.maximum : d > *s.maximum;
      if (above) {
        add(path,
            fmt::format("must be {} {}, got {}", s.exclusive_maximum ? "<" : "<=", format_number(*s.maximum), got),
            k_reason_invalid, ptr, MarkTarget::value);
      }
    }
  }

  void check_string(const Schema& s, const std::string& v, const std::string& path, const json::json_pointer& ptr) {
    const auto length = static_cast<std::int64_t>(utf8_length(v));
    if (s.min_length && length < *s.min_length) {
      if (*s.min_length == 1) {
        add(path, "must not be empty", k_reason_required, ptr, MarkTarget::value);
      } else {
        add(path, fmt::format("must be at least {} long, got {}", plural(*s.min_length, "character"), length),
            k_reason_invalid, ptr, MarkTarget::value);
      }
      return;
    }
    if (s.max_length && length > *s.max_length) {
      add(path, fmt::format("must be at most {} long, got {}", plural(*s.max_length, "character"), length),
          k_reason_too_long, ptr, MarkTarget::value);
      return;
    }
    if (!s.pattern.empty()) {
      if (!matches_pattern(s.pattern, v)) {
        add(path, fmt::format("must match the regular expression {}, got {}", json_text(s.pattern), json_text(v)),
            k_reason_invalid, ptr, MarkTarget::value);
        return;
      }
    }
    if (s.format == "date-time" && !parse_time(v).ok()) {
      add(path, fmt::format("must be an RFC 3339 date-time such as \"2024-05-01T12:00:00Z\", got {}", json_text(v)),
          k_reason_invalid, ptr, MarkTarget::value);
    }
  }

  void check_array(const Schema& s, const json& v, const std::string& path, const json::json_pointer& ptr) {
    const auto count = static_cast<std::int64_t>(v.size());
    if (s.min_items && count < *s.min_items) {
      add(path, fmt::format("must have at least {}, got {}", plural(*s.min_items, "item"), count), k_reason_invalid,
          ptr, MarkTarget::value);
    }
    if (s.max_items && count > *s.max_items) {
      add(path, fmt::format("must have at most {}, got {}", plural(*s.max_items, "item"), count), k_reason_too_long,
          ptr, MarkTarget::value);
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (s.items) {
        check(*s.items, v[i], field_path_index(path, i), ptr / i);
      }
    }
    if (s.list_type == "set") {
      for (std::size_t i = 1; i < v.size(); ++i) {
        if (std::find(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v[i]) !=
            v.begin() + static_cast<std::ptrdiff_t>(i)) {
          add(field_path_index(path, i), fmt::format("duplicate value {}", describe_json_value(v[i])),
              k_reason_duplicate, ptr / i, MarkTarget::value);
        }
      }
    } else if (s.list_type == "map" && !s.list_map_keys.empty()) {
      std::set<std::vector<json>> seen;
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_object()) {
          continue;
        }
        std::vector<json> key;
        std::string shown;
        for (const auto& name : s.list_map_keys) {
          key.push_back(v[i].contains(name) ? v[i][name] : json());
          shown += fmt::format("{}{}={}", shown.empty() ? "" : ", ", name, json_text(key.back()));
        }
        if (!seen.insert(key).second) {
          add(field_path_index(path, i), fmt::format("duplicate entry with {}", shown), k_reason_duplicate, ptr / i,
              MarkTarget::value);
        }
      }
    }
  }

  void check_object(const Schema& s, const json& v, const std::string& path, const json::json_pointer& ptr) {
    for (const auto& [key, child] : v.items()) {
      if (const auto it = s.properties.find(key); it != s.properties.end()) {
        check(it->second, child, field_path_child(path, key), ptr / key);
      } else if (s.additional_properties) {
        check(*s.additional_properties, child, field_path_key(path, key), ptr / key);
      } else if (allows_any_field(s) ||
                 (s.embedded_resource && (key == "apiVersion" || key == "kind" || key == "metadata"))) {
        continue;
      } else if (m_options.reject_unknown_fields) {
        add(path, fmt::format("unknown field {}", json_text(key)), k_reason_unknown, ptr / key, MarkTarget::key);
      }
    }
    for (const auto& name : s.required) {
      if (m_options.check_constraints && !v.contains(name)) {
        add(field_path_child(path, name), "required field is missing", k_reason_required, ptr, MarkTarget::value);
      }
    }
  }

  const ValidateOptions& m_options;
  std::vector<FieldCause> m_causes;
};

// ---- from_openapi helpers -----------------------------------------------------

class Reader {
 public:
  std::vector<FieldCause> causes;

  Schema read(const json& j, const std::string& path) {
    Schema s;
    if (!j.is_object()) {
      fail(path, fmt::format("must be an object, got {}", describe_json_value(j)));
      return s;
    }
    for (const auto& [key, value] : j.items()) {
      const std::string at = field_path_child(path, key);
      if (key == "type") {
        s.type = text(value, at);
        static const std::set<std::string> k_types{"", "object", "array", "string", "integer", "number", "boolean"};
        if (k_types.count(s.type) == 0) {
          fail(at,
               fmt::format("must be one of \"object\", \"array\", \"string\", \"integer\", \"number\", \"boolean\", "
                           "got {}",
                           json_text(value)));
        }
      } else if (key == "format") {
        s.format = text(value, at);
      } else if (key == "description") {
        s.description = text(value, at);
      } else if (key == "properties") {
        if (!value.is_object()) {
          fail(at, fmt::format("must be an object, got {}", describe_json_value(value)));
          continue;
        }
        for (const auto& [name, prop] : value.items()) {
          s.properties.emplace(name, read(prop, field_path_key(at, name)));
        }
      } else if (key == "required") {
        s.required = strings(value, at);
      } else if (key == "items") {
        s.items = std::make_shared<const Schema>(read(value, at));
      } else if (key == "additionalProperties") {
        if (value.is_boolean()) {
          if (value.get<bool>()) {
            s.extensions[key] = value;  // "any value": kept as written, accepted like preserve-unknown
          }
          continue;
        }
        s.additional_properties = std::make_shared<const Schema>(read(value, at));
      } else if (key == "enum") {
        if (!value.is_array()) {
          fail(at, fmt::format("must be an array, got {}", describe_json_value(value)));
          continue;
        }
        s.enum_values.assign(value.begin(), value.end());
      } else if (key == "minimum") {
        s.minimum = number(value, at);
      } else if (key == "maximum") {
        s.maximum = number(value, at);
      } else if (key == "exclusiveMinimum") {
        s.exclusive_minimum = flag(value, at);
      } else if (key == "exclusiveMaximum") {
        s.exclusive_maximum = flag(value, at);
      } else if (key == "minLength") {
        s.min_length = count(value, at);
      } else if (key == "maxLength") {
        s.max_length = count(value, at);
      } else if (key == "minItems") {
        s.min_items = count(value, at);
      } else if (key == "maxItems") {
        s.max_items = count(value, at);
      } else if (key == "pattern") {
        s.pattern = text(value, at);
        if (builtin_pattern_matcher(s.pattern) == nullptr && compiled(s.pattern) == nullptr) {
          fail(at, fmt::format("invalid regular expression {}", json_text(value)));
        }
      } else if (key == "default") {
        s.default_value = value;
      } else if (key == "nullable") {
        s.nullable = flag(value, at);
      } else if (key == "x-kubernetes-preserve-unknown-fields") {
        s.preserve_unknown_fields = flag(value, at);
      } else if (key == "x-kubernetes-int-or-string") {
        s.int_or_string = flag(value, at);
      } else if (key == "x-kubernetes-embedded-resource") {
        s.embedded_resource = flag(value, at);
      } else if (key == "x-kubernetes-list-type") {
        s.list_type = text(value, at);
      } else if (key == "x-kubernetes-list-map-keys") {
        s.list_map_keys = strings(value, at);
      } else if (key == "x-kubernetes-map-type") {
        s.map_type = text(value, at);
      } else {
        s.extensions[key] = value;
      }
    }
    return s;
  }

 private:
  void fail(const std::string& path, std::string message) {
    causes.push_back(FieldCause{path, std::move(message), {}, std::string(k_reason_invalid)});
  }
  std::string text(const json& v, const std::string& at) {
    if (!v.is_string()) {
      fail(at, fmt::format("must be a string, got {}", describe_json_value(v)));
      return {};
    }
    return v.get<std::string>();
  }
  bool flag(const json& v, const std::string& at) {
    if (!v.is_boolean()) {
      fail(at, fmt::format("must be a boolean, got {}", describe_json_value(v)));
      return false;
    }
    return v.get<bool>();
  }
  std::optional<double> number(const json& v, const std::string& at) {
    if (!v.is_number()) {
      fail(at, fmt::format("must be a number, got {}", describe_json_value(v)));
      return std::nullopt;
    }
    return v.get<double>();
  }
  std::optional<std::int64_t> count(const json& v, const std::string& at) {
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0) {
      fail(at, fmt::format("must be a non-negative integer, got {}", describe_json_value(v)));
      return std::nullopt;
    }
    return v.get<std::int64_t>();
  }
  std::vector<std::string> strings(const json& v, const std::string& at) {
    std::vector<std::string> out;
    if (!v.is_array()) {
      fail(at, fmt::format("must be an array of strings, got {}", describe_json_value(v)));
      return out;
    }
    for (std::size_t i = 0; i < v.size(); ++i) {
      out.push_back(text(v[i], field_path_index(at, i)));
    }
    return out;
  }
};

json number_json(double v) {
  if (std::isfinite(v) && std::floor(v) == v && std::fabs(v) < 9.0e15) {
    return static_cast<std::int64_t>(v);
  }
  return v;
}

bool same_ptr(const std::shared_ptr<const Schema>& a, const std::shared_ptr<const Schema>& b) {
  if (!a || !b) {
    return !a && !b;
  }
  return *a == *b;
}

}  // namespace

// ---- building -------------------------------------------------------------------

Schema Schema::object(std::string description) {
  Schema s;
  s.type = "object";
  s.description = std::move(description);
  return s;
}

Schema Schema::string(std::string description) {
  Schema s;
  s.type = "string";
  s.description = std::move(description);
  return s;
}

Schema Schema::date_time(std::string description) {
  Schema s = string(std::move(description));
  s.format = "date-time";
  return s;
}

Schema Schema::integer(std::string description, std::string format) {
  Schema s;
  s.type = "integer";
  s.format = std::move(format);
  s.description = std::move(description);
  return s;
}

Schema Schema::number(std::string description) {
  Schema s;
  s.type = "number";
  s.description = std::move(description);
  return s;
}

Schema Schema::boolean(std::string description) {
  Schema s;
  s.type = "boolean";
  s.description = std::move(description);
  return s;
}

Schema Schema::array_of(Schema items, std::string description) {
  Schema s;
  s.type = "array";
  s.items = std::make_shared<const Schema>(std::move(items));
  s.description = std::move(description);
  return s;
}

Schema Schema::map_of(Schema values, std::string description) {
  Schema s;
  s.type = "object";
  s.additional_properties = std::make_shared<const Schema>(std::move(values));
  s.description = std::move(description);
  return s;
}

Schema& Schema::property(const std::string& name, Schema schema, bool is_required) {
  properties.insert_or_assign(name, std::move(schema));
  if (is_required && std::find(required.begin(), required.end(), name) == required.end()) {
    required.push_back(name);
  }
  return *this;
}

Schema& Schema::with_default(nlohmann::json value) {
  default_value = std::move(value);
  return *this;
}

Schema& Schema::with_enum(std::vector<nlohmann::json> values) {
  enum_values = std::move(values);
  return *this;
}

Schema& Schema::with_minimum(double value, bool exclusive) {
  minimum = value;
  exclusive_minimum = exclusive;
  return *this;
}

Schema& Schema::with_maximum(double value, bool exclusive) {
  maximum = value;
  exclusive_maximum = exclusive;
  return *this;
}

Schema& Schema::with_length(std::optional<std::int64_t> min, std::optional<std::int64_t> max) {
  min_length = min;
  max_length = max;
  return *this;
}

Schema& Schema::with_pattern(std::string regex) {
  pattern = std::move(regex);
  return *this;
}

// ---- OpenAPI JSON -----------------------------------------------------------------

Result<Schema> Schema::from_openapi(const nlohmann::json& json) {
  Reader reader;
  Schema s = reader.read(json, "");
  if (!reader.causes.empty()) {
    return Error(ErrorCode::invalid, "invalid OpenAPI v3 schema").with_causes(std::move(reader.causes));
  }
  return s;
}

nlohmann::json Schema::to_openapi() const {
  json j = extensions.is_object() ? extensions : json::object();
  if (!type.empty()) {
    j["type"] = type;
  }
  if (!format.empty()) {
    j["format"] = format;
  }
  if (!description.empty()) {
    j["description"] = description;
  }
  if (!properties.empty()) {
    json props = json::object();
    for (const auto& [name, prop] : properties) {
      props[name] = prop.to_openapi();
    }
    j["properties"] = std::move(props);
  }
  if (!required.empty()) {
    j["required"] = required;
  }
  if (items) {
    j["items"] = items->to_openapi();
  }
  if (additional_properties) {
    j["additionalProperties"] = additional_properties->to_openapi();
  }
  if (!enum_values.empty()) {
    j["enum"] = enum_values;
  }
  if (minimum) {
    j["minimum"] = number_json(*minimum);
  }
  if (maximum) {
    j["maximum"] = number_json(*maximum);
  }
  if (exclusive_minimum) {
    j["exclusiveMinimum"] = true;
  }
  if (exclusive_maximum) {
    j["exclusiveMaximum"] = true;
  }
  if (min_length) {
    j["minLength"] = *min_length;
  }
  if (max_length) {
    j["maxLength"] = *max_length;
  }
  if (min_items) {
    j["minItems"] = *min_items;
  }
  if (max_items) {
    j["maxItems"] = *max_items;
  }
  if (!pattern.empty()) {
    j["pattern"] = pattern;
  }
  if (default_value) {
    j["default"] = *default_value;
  }
  if (nullable) {
    j["nullable"] = true;
  }
  if (preserve_unknown_fields) {
    j["x-kubernetes-preserve-unknown-fields"] = true;
  }
  if (int_or_string) {
    j["x-kubernetes-int-or-string"] = true;
  }
  if (embedded_resource) {
    j["x-kubernetes-embedded-resource"] = true;
  }
  if (!list_type.empty()) {
    j["x-kubernetes-list-type"] = list_type;
  }
  if (!list_map_keys.empty()) {
    j["x-kubernetes-list-map-keys"] = list_map_keys;
  }
  if (!map_type.empty()) {
    j["x-kubernetes-map-type"] = map_type;
  }
  return j;
}

bool operator==(const Schema& a, const Schema& b) {
  return a.type == b.type && a.format == b.format && a.description == b.description && a.properties == b.properties &&
         a.required == b.required && same_ptr(a.items, b.items) &&
         same_ptr(a.additional_properties, b.additional_properties) && a.enum_values == b.enum_values &&
         a.minimum == b.minimum && a.maximum == b.maximum && a.exclusive_minimum == b.exclusive_minimum &&
         a.exclusive_maximum == b.exclusive_maximum && a.min_length == b.min_length && a.max_length == b.max_length &&
         a.min_items == b.min_items && a.max_items == b.max_items && a.pattern == b.pattern &&
         a.default_value == b.default_value && a.nullable == b.nullable &&
         a.preserve_unknown_fields == b.preserve_unknown_fields && a.int_or_string == b.int_or_string &&
         a.embedded_resource == b.embedded_resource && a.list_type == b.list_type &&
         a.list_map_keys == b.list_map_keys && a.map_type == b.map_type && a.extensions == b.extensions;
}

// ---- using it -------------------------------------------------------------------

std::vector<FieldCause> Schema::validate(const nlohmann::json& value, const ValidateOptions& options) const {
  Validator validator(options);
  validator.check(*this, value, options.path, options.pointer);
  return validator.take();
}

void Schema::apply_defaults(nlohmann::json& value) const {
  if (value.is_object()) {
    for (const auto& [name, prop] : properties) {
      auto it = value.find(name);
      if (prop.default_value && (it == value.end() || (it->is_null() && !prop.nullable))) {
        value[name] = *prop.default_value;
        it = value.find(name);
      }
      if (it != value.end()) {
        prop.apply_defaults(*it);
      }
    }
    if (additional_properties) {
      for (auto& [key, child] : value.items()) {
        if (properties.count(key) == 0) {
          additional_properties->apply_defaults(child);
        }
      }
    }
  } else if (value.is_array() && items) {
    for (auto& element : value) {
      items->apply_defaults(element);
    }
  }
}

void Schema::prune(nlohmann::json& value) const {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end();) {
      const std::string& key = it.key();
      if (const auto prop = properties.find(key); prop != properties.end()) {
        prop->second.prune(*it);
      } else if (additional_properties) {
        additional_properties->prune(*it);
      } else if (!allows_any_field(*this) &&
                 !(embedded_resource && (key == "apiVersion" || key == "kind" || key == "metadata"))) {
        it = value.erase(it);
        continue;
      }
      ++it;
    }
  } else if (value.is_array() && items) {
    for (auto& element : value) {
      items->prune(element);
    }
  }
}

const Schema* Schema::find(std::string_view dotted_path) const {
  const Schema* current = this;
  while (!dotted_path.empty() && current != nullptr) {
    const auto dot = dotted_path.find('.');
    const std::string name(dotted_path.substr(0, dot));
    dotted_path = dot == std::string_view::npos ? std::string_view{} : dotted_path.substr(dot + 1);
    const auto it = current->properties.find(name);
    current = it == current->properties.end() ? nullptr : &it->second;
  }
  return current;
}

std::string field_path_child(std::string_view parent, std::string_view name) {
  if (parent.empty()) {
    return std::string(name);
  }
  return fmt::format("{}.{}", parent, name);
}

std::string field_path_index(std::string_view parent, std::size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

std::string field_path_key(std::string_view parent, std::string_view key) {
  return fmt::format("{}[{}]", parent, key);
}

FieldCause located_cause(const ValidateOptions& options, std::string path, std::string message, std::string_view reason,
                         const nlohmann::json::json_pointer& pointer, MarkTarget target) {
  FieldCause cause;
  cause.field = std::move(path);
  cause.message = std::move(message);
  cause.reason = std::string(reason);
  if (options.locate) {
    cause.location = options.locate(pointer, target);
  }
  return cause;
}

std::string json_text(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string describe_json_value(const nlohmann::json& value) {
  switch (value.type()) {
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::null:
      return "null";
    default:
      return json_text(value);
  }
}

}  // namespace gpuorch::model
