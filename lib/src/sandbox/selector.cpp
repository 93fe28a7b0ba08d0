#include <gpuorch/sandbox/selector.hpp>

#include <algorithm>
#include <cctype>

namespace gpuorch::sandbox {
namespace {

using nlohmann::json;

Error bad_selector(std::string message) {
  return Error(ErrorCode::invalid, std::move(message)).with_http(400, "BadRequest");
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) {
    s.remove_suffix(1);
  }
  return s;
}

// Splits on commas that are not inside parentheses.
std::vector<std::string_view> split_terms(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') {
      ++depth;
    } else if (text[i] == ')') {
      --depth;
    } else if (text[i] == ',' && depth == 0) {
      out.push_back(trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(trim(text.substr(start)));
  return out;
}

bool valid_label_key(std::string_view key) {
  if (key.empty() || key.size() > 317) {
    return false;
  }
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '/';
  });
}

bool valid_label_value(std::string_view v) {
  return v.size() <= 63 && std::all_of(v.begin(), v.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
         });
}

std::string label_of(const json& labels, const std::string& key, bool& present) {
  present = false;
  if (!labels.is_object()) {
    return {};
  }
  const auto it = labels.find(key);
  if (it == labels.end()) {
    return {};
  }
  present = true;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

}  // namespace

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  LabelSelector sel;
  text = trim(text);
  if (text.empty()) {
    return sel;
  }
  for (std::string_view term : split_terms(text)) {
    if (term.empty()) {
      return bad_selector("unable to parse requirement: found '', expected: identifier");
    }
    Requirement r;
    if (term.front() == '!') {
      r.key = std::string(trim(term.substr(1)));
      r.op = Op::not_exists;
    } else if (auto pos = term.find("!="); pos != std::string_view::npos) {
      r.key = std::string(trim(term.substr(0, pos)));
      r.op = Op::not_equals;
      r.values.emplace_back(trim(term.substr(pos + 2)));
    } else if (auto eq = term.find("=="); eq != std::string_view::npos) {
      r.key = std::string(trim(term.substr(0, eq)));
      r.op = Op::equals;
      r.values.emplace_back(trim(term.substr(eq + 2)));
    } else if (auto e1 = term.find('='); e1 != std::string_view::npos) {
      r.key = std::string(trim(term.substr(0, e1)));
      r.op = Op::equals;
      r.values.emplace_back(trim(term.substr(e1 + 1)));
    } else if (auto paren = term.find('('); paren != std::string_view::npos) {
      std::string_view head = trim(term.substr(0, paren));
      if (term.back() != ')') {
        return bad_selector("unable to parse requirement: missing ')' in \"" + std::string(term) + "\"");
      }
      const auto space = head.find_last_of(" \t");
      if (space == std::string_view::npos) {
        return bad_selector("unable to parse requirement: expected 'in' or 'notin' in \"" + std::string(term) + "\"");
      }
      const std::string_view op = trim(head.substr(space + 1));
      r.key = std::string(trim(head.substr(0, space)));
      if (op == "in") {
        r.op = Op::in;
      } else if (op == "notin") {
        r.op = Op::not_in;
      } else {
        return bad_selector("unable to parse requirement: unknown operator \"" + std::string(op) + "\"");
      }
      std::string_view inner = term.substr(paren + 1, term.size() - paren - 2);
      for (std::string_view v : split_terms(inner)) {
        if (!v.empty()) {
          r.values.emplace_back(v);
        }
      }
      if (r.values.empty()) {
        return bad_selector("for 'in', 'notin' operators, values set can't be empty");
      }
    } else {
      r.key = std::string(term);
      r.op = Op::exists;
    }
    if (!valid_label_key(r.key)) {
      return bad_selector("unable to parse requirement: invalid label key \"" + r.key + "\"");
    }
    for (const auto& v : r.values) {
      if (!valid_label_value(v)) {
        return bad_selector("unable to parse requirement: invalid label value: \"" + v + "\"");
      }
    }
    sel.m_requirements.push_back(std::move(r));
  }
  return sel;
}

Result<LabelSelector> LabelSelector::from_json(const json& selector) {
  LabelSelector sel;
  if (!selector.is_object()) {
    return sel;
  }
  if (selector.contains("matchLabels") && selector["matchLabels"].is_object()) {
    for (const auto& [k, v] : selector["matchLabels"].items()) {
      sel.m_requirements.push_back({k, Op::equals, {v.is_string() ? v.get<std::string>() : v.dump()}});
    }
  }
  if (selector.contains("matchExpressions") && selector["matchExpressions"].is_array()) {
    for (const auto& e : selector["matchExpressions"]) {
      Requirement r;
      r.key = e.value("key", "");
      const std::string op = e.value("operator", "");
      if (op == "In") {
        r.op = Op::in;
      } else if (op == "NotIn") {
        r.op = Op::not_in;
      } else if (op == "Exists") {
        r.op = Op::exists;
      } else if (op == "DoesNotExist") {
        r.op = Op::not_exists;
      } else {
        return bad_selector("\"" + op + "\" is not a valid label selector operator");
      }
      r.values = e.value("values", std::vector<std::string>{});
      sel.m_requirements.push_back(std::move(r));
    }
  }
  return sel;
}

bool LabelSelector::matches(const json& labels) const {
  for (const auto& r : m_requirements) {
    bool present = false;
    const std::string value = label_of(labels, r.key, present);
    const bool in_set = present && std::find(r.values.begin(), r.values.end(), value) != r.values.end();
    switch (r.op) {
      case Op::equals:
      case Op::in:
        if (!in_set) {
          return false;
        }
        break;
      case Op::not_equals:
      case Op::not_in:
        if (in_set) {
          return false;
        }
        break;
      case Op::exists:
        if (!present) {
          return false;
        }
        break;
      case Op::not_exists:
        if (present) {
          return false;
        }
        break;
    }
  }
  return true;
}

namespace {

std::string stored_field_value(const json& object, std::string_view field) {
  const json* cur = &object;
  std::size_t start = 0;
  while (start <= field.size()) {
    const auto dot = field.find('.', start);
    const std::string part(field.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (!cur->is_object()) {
      return {};
    }
    const auto it = cur->find(part);
    if (it == cur->end()) {
      return {};
    }
    cur = &*it;
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  if (cur->is_string()) {
    return cur->get<std::string>();
  }
  if (cur->is_null()) {
    return {};
  }
  return cur->dump();
}

}  // namespace

std::string field_value(const json& object, std::string_view field) {
  std::string v = stored_field_value(object, field);
  // Boolean fields select as "false" when absent: the API server formats
  // the Go zero value.
  if (v.empty() && field == "spec.unschedulable") {
    v = "false";
  }
  return v;
}

Result<FieldSelector> FieldSelector::parse(std::string_view text, const std::vector<std::string>& supported) {
  FieldSelector sel;
  text = trim(text);
  if (text.empty()) {
    return sel;
  }
  for (std::string_view term : split_terms(text)) {
    Requirement r;
    std::size_t op_len = 1;
    auto pos = term.find("!=");
    if (pos != std::string_view::npos) {
      r.negate = true;
      op_len = 2;
    } else if (pos = term.find("=="); pos != std::string_view::npos) {
      op_len = 2;
    } else {
      pos = term.find('=');
    }
    if (pos == std::string_view::npos) {
      return bad_selector("invalid selector: '" + std::string(text) + "'; can't understand '" + std::string(term) +
                          "'");
    }
    r.field = std::string(trim(term.substr(0, pos)));
    r.value = std::string(trim(term.substr(pos + op_len)));
    if (std::find(supported.begin(), supported.end(), r.field) == supported.end()) {
      return bad_selector("field label not supported: " + r.field);
    }
    sel.m_requirements.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::matches(const json& object) const {
  for (const auto& r : m_requirements) {
    const bool equal = field_value(object, r.field) == r.value;
    if (equal == r.negate) {
      return false;
    }
  }
  return true;
}

}  // namespace gpuorch::sandbox
