#pragma once

// Internal: typed extraction of fields from JSON with field-path errors, shared
// by the model's decoders. Absent and null fields read as empty values.

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <gpuorch/base/error.hpp>
#include <gpuorch/model/schema.hpp>
#include <gpuorch/model/time.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::model::detail {

class Decoder {
 public:
  std::vector<FieldCause> causes;

  /// The member `key` of `object`, or nullptr when absent or null.
  static const nlohmann::json* member(const nlohmann::json& object, std::string_view key) {
    if (!object.is_object()) {
      return nullptr;
    }
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) {
      return nullptr;
    }
    return &*it;
  }

  bool expect_object(const nlohmann::json& value, const std::string& path) {
    if (value.is_object()) {
      return true;
    }
    type_error(path, "an object", value);
    return false;
  }

  std::string str(const nlohmann::json& object, std::string_view key, const std::string& path) {
    const auto* v = member(object, key);
    if (v == nullptr) {
      return {};
    }
    if (!v->is_string()) {
      type_error(field_path_child(path, key), "a string", *v);
      return {};
    }
    return v->get<std::string>();
  }

  std::optional<std::int64_t> int64(const nlohmann::json& object, std::string_view key, const std::string& path,
                                    std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                                    std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
    const auto* v = member(object, key);
    if (v == nullptr) {
      return std::nullopt;
    }
    if (v->is_number_integer()) {
      if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
        range_error(field_path_child(path, key), *v, max == std::numeric_limits<std::int32_t>::max());
        return std::nullopt;
      }
      const auto i = v->get<std::int64_t>();
      if (i < min || i > max) {
        range_error(field_path_child(path, key), *v, max == std::numeric_limits<std::int32_t>::max());
        return std::nullopt;
      }
      return i;
    }
    if (v->is_number_float()) {
      const double d = v->get<double>();
      if (std::isfinite(d) && std::floor(d) == d && d >= static_cast<double>(min) && d <= static_cast<double>(max)) {
        return static_cast<std::int64_t>(d);
      }
    }
    type_error(field_path_child(path, key), "an integer", *v);
    return std::nullopt;
  }

  std::optional<std::int32_t> int32(const nlohmann::json& object, std::string_view key, const std::string& path) {
    const auto v =
        int64(object, key, path, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max());
    if (!v) {
      return std::nullopt;
    }
    return static_cast<std::int32_t>(*v);
  }

  std::optional<bool> boolean(const nlohmann::json& object, std::string_view key, const std::string& path) {
    const auto* v = member(object, key);
    if (v == nullptr) {
      return std::nullopt;
    }
    if (!v->is_boolean()) {
      type_error(field_path_child(path, key), "a boolean", *v);
      return std::nullopt;
    }
    return v->get<bool>();
  }

  std::optional<Time> time(const nlohmann::json& object, std::string_view key, const std::string& path) {
    const std::string text = str(object, key, path);
    if (text.empty()) {
      return std::nullopt;
    }
    auto parsed = parse_time(text);
    if (!parsed.ok()) {
      causes.push_back(FieldCause{field_path_child(path, key), parsed.error().message(), {}, "FieldValueInvalid"});
      return std::nullopt;
    }
    return *parsed;
  }

  std::vector<std::string> strings(const nlohmann::json& object, std::string_view key, const std::string& path) {
    std::vector<std::string> out;
    const auto* v = member(object, key);
    if (v == nullptr) {
      return out;
    }
    const std::string at = field_path_child(path, key);
    if (!v->is_array()) {
      type_error(at, "an array", *v);
      return out;
    }
    for (std::size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        type_error(field_path_index(at, i), "a string", (*v)[i]);
        continue;
      }
      out.push_back((*v)[i].get<std::string>());
    }
    return out;
  }

  std::map<std::string, std::string> string_map(const nlohmann::json& object, std::string_view key,
                                                const std::string& path) {
    std::map<std::string, std::string> out;
    const auto* v = member(object, key);
    if (v == nullptr) {
      return out;
    }
    const std::string at = field_path_child(path, key);
    if (!v->is_object()) {
      type_error(at, "an object", *v);
      return out;
    }
    for (const auto& [k, value] : v->items()) {
      if (!value.is_string()) {
        type_error(field_path_key(at, k), "a string", value);
        continue;
      }
      out.emplace(k, value.get<std::string>());
    }
    return out;
  }

  /// Calls `each(element, element_path)` for every element of the array `key`.
  template <typename F>
  void array(const nlohmann::json& object, std::string_view key, const std::string& path, F&& each) {
    const auto* v = member(object, key);
    if (v == nullptr) {
      return;
    }
    const std::string at = field_path_child(path, key);
    if (!v->is_array()) {
      type_error(at, "an array", *v);
      return;
    }
    for (std::size_t i = 0; i < v->size(); ++i) {
      each((*v)[i], field_path_index(at, i));
    }
  }

  void type_error(const std::string& path, std::string_view expected, const nlohmann::json& got) {
    causes.push_back(FieldCause{
        path, fmt::format("must be {}, got {}", expected, describe_json_value(got)), {}, "FieldValueTypeInvalid"});
  }

 private:
  void range_error(const std::string& path, const nlohmann::json& got, bool is_int32) {
    causes.push_back(FieldCause{path,
                                fmt::format("must fit in a {}-bit integer, got {}", is_int32 ? 32 : 64, json_text(got)),
                                {},
                                "FieldValueInvalid"});
  }
};

}  // namespace gpuorch::model::detail
