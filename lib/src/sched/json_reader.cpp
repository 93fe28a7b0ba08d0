#include "json_reader.hpp"

#include <charconv>
#include <cmath>
#include <vector>

#include <fmt/format.h>

namespace gpuorch::sched::detail {

using nlohmann::json;

std::string field_path(const json::json_pointer& pointer) {
  std::vector<std::string> tokens;
  for (auto p = pointer; !p.empty(); p = p.parent_pointer()) {
    tokens.insert(tokens.begin(), p.back());
  }
  std::string out;
  for (const auto& token : tokens) {
    const bool index = !token.empty() && token.find_first_not_of("0123456789") == std::string::npos;
    if (index || token.find_first_of("./") != std::string::npos) {
      out += fmt::format("[{}]", token);
    } else {
      out += out.empty() ? token : "." + token;
    }
  }
  return out;
}

Error JsonReader::error(const Pointer& at, std::string_view message, bool at_key) const {
  std::string where;
  if (m_locate) {
    where = m_locate(at, at_key ? model::MarkTarget::key : model::MarkTarget::value);
  }
  if (where.empty()) {
    where = m_where;
  }
  const auto field = field_path(at);
  if (field.empty()) {
    return Error(ErrorCode::invalid, fmt::format("{}: {}", where, message));
  }
  return Error(ErrorCode::invalid, fmt::format("{}: {}: {}", where, field, message));
}

const json* JsonReader::find(const Pointer& at) const {
  if (!m_root.contains(at)) {
    return nullptr;
  }
  const json& value = m_root.at(at);
  return value.is_null() ? nullptr : &value;
}

Result<std::string> JsonReader::string(const Pointer& at) const {
  const json* value = find(at);
  if (value == nullptr) {
    return std::string();
  }
  if (!value->is_string()) {
    return error(at, fmt::format("expected a string, got {}", value->type_name()));
  }
  return value->get<std::string>();
}

Result<std::string> JsonReader::scalar(const Pointer& at) const {
  const json* value = find(at);
  if (value == nullptr) {
    return std::string();
  }
  if (value->is_string()) {
    return value->get<std::string>();
  }
  if (value->is_number() || value->is_boolean()) {
    return value->dump();
  }
  return error(at, fmt::format("expected a string, got {}", value->type_name()));
}

Result<model::Quantity> JsonReader::quantity(const Pointer& at) const {
  const json* value = find(at);
  if (value == nullptr) {
    return error(at, "required");
  }
  std::string text;
  if (value->is_string()) {
    text = value->get<std::string>();
  } else if (value->is_number()) {
    text = value->dump();
  } else {
    return error(at, fmt::format("expected a quantity, got {}", value->type_name()));
  }
  auto q = model::Quantity::parse(text);
  if (!q.ok()) {
    return error(at, q.error().message());
  }
  if (q->sign() < 0) {
    return error(at, fmt::format("must be >= 0, got \"{}\"", text));
  }
  return q;
}

Result<double> JsonReader::number(const Pointer& at) const {
  const json* value = find(at);
  if (value == nullptr) {
    return error(at, "required");
  }
  if (value->is_number()) {
    const double d = value->get<double>();
    if (std::isfinite(d)) {
      return d;
    }
  } else if (value->is_string()) {
    const auto& text = value->get_ref<const std::string&>();
    double d = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(d)) {
      return d;
    }
    return error(at, fmt::format("not a number: \"{}\"", text));
  }
  return error(at, fmt::format("expected a number, got {}", value->type_name()));
}

Result<bool> JsonReader::boolean(const Pointer& at) const {
  const json* value = find(at);
  if (value == nullptr || !value->is_boolean()) {
    return error(at, fmt::format("expected true or false, got {}", value == nullptr ? "nothing" : value->dump()));
  }
  return value->get<bool>();
}

Result<Labels> JsonReader::string_map(const Pointer& at, bool strict) const {
  Labels out;
  const json* value = find(at);
  if (value == nullptr) {
    return out;
  }
  if (!value->is_object()) {
    return error(at, fmt::format("expected a map, got {}", value->type_name()));
  }
  for (const auto& [key, item] : value->items()) {
    if (strict) {
      GPUORCH_ASSIGN_OR_RETURN(auto text, string(at / key));
      out.emplace_back(key, std::move(text));
    } else {
      GPUORCH_ASSIGN_OR_RETURN(auto text, scalar(at / key));
      out.emplace_back(key, std::move(text));
    }
  }
  return out;
}

Result<std::vector<Taint>> JsonReader::taints(const Pointer& at) const {
  std::vector<Taint> out;
  const json* list = find(at);
  if (list == nullptr) {
    return out;
  }
  if (!list->is_array()) {
    return error(at, fmt::format("expected a list, got {}", list->type_name()));
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    const auto item = at / i;
    if (!(*list)[i].is_object()) {
      return error(item, "expected a taint {key, value, effect}");
    }
    Taint taint;
    GPUORCH_ASSIGN_OR_RETURN(taint.key, string(item / "key"));
    GPUORCH_ASSIGN_OR_RETURN(taint.value, scalar(item / "value"));
    GPUORCH_ASSIGN_OR_RETURN(taint.effect, string(item / "effect"));
    if (taint.key.empty()) {
      return error(item, "a taint needs a key");
    }
    if (taint.effect != "NoSchedule" && taint.effect != "PreferNoSchedule" && taint.effect != "NoExecute") {
      return error(find(item / "effect") != nullptr ? item / "effect" : item,
                   fmt::format("must be NoSchedule, PreferNoSchedule or NoExecute, got \"{}\"", taint.effect));
    }
    out.push_back(std::move(taint));
  }
  return out;
}

}  // namespace gpuorch::sched::detail
