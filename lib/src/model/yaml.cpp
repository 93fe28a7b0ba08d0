#include <gpuorch/model/yaml.hpp>

#include <gpuorch/model/schema.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <string_view>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace gpuorch::model {
namespace {

using nlohmann::json;

SourcePosition position_of(const YAML::Mark& mark) {
  return {mark.line + 1, mark.column + 1};
}

// A parse failure that carries the node's position out of the recursive walk.
struct YamlFailure {
  SourcePosition position;
  std::string message;
};

// Hand-written matchers for the core schema's number forms: compiling the equivalent
// std::regex objects cost more than parsing a whole manifest.
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_octal_digit(char c) {
  return c >= '0' && c <= '7';
}
bool is_hex_digit(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool all_nonempty(std::string_view s, bool (*in_class)(char)) {
  return !s.empty() && std::all_of(s.begin(), s.end(), in_class);
}
std::string_view without_sign(std::string_view s) {
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    s.remove_prefix(1);
  }
  return s;
}
// Consumes up to `max` leading digits of s and returns how many.
std::size_t take_digits(std::string_view& s, std::size_t max = std::string_view::npos) {
  std::size_t n = 0;
  while (n < s.size() && n < max && is_digit(s[n])) {
    ++n;
  }
  s.remove_prefix(n);
  return n;
}

// [-+]?[0-9]+
bool is_int_decimal(std::string_view s) {
  return all_nonempty(without_sign(s), is_digit);
}
// 0o[0-7]+
bool is_int_octal(std::string_view s) {
  return s.size() > 2 && s.substr(0, 2) == "0o" && all_nonempty(s.substr(2), is_octal_digit);
}
// 0x[0-9a-fA-F]+
bool is_int_hex(std::string_view s) {
  return s.size() > 2 && s.substr(0, 2) == "0x" && all_nonempty(s.substr(2), is_hex_digit);
}
// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_float(std::string_view s) {
  s = without_sign(s);
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    if (take_digits(s) == 0) {
      return false;
    }
  } else {
    if (take_digits(s) == 0) {
      return false;
    }
    if (!s.empty() && s.front() == '.') {
      s.remove_prefix(1);
      take_digits(s);
    }
  }
  if (!s.empty() && (s.front() == 'e' || s.front() == 'E')) {
    return all_nonempty(without_sign(s.substr(1)), is_digit);
  }
  return s.empty();
}
// [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?
bool is_date_prefixed(std::string_view s) {
  if (take_digits(s, 4) != 4 || s.empty() || s.front() != '-') {
    return false;
  }
  s.remove_prefix(1);
  if (take_digits(s, 2) == 0 || s.empty() || s.front() != '-') {
    return false;
  }
  s.remove_prefix(1);
  if (take_digits(s, 2) == 0) {
    return false;
  }
  return s.empty() || s.front() == 'T' || s.front() == 't' || s.front() == ' ';
}

// YAML 1.2 core schema resolution of a plain scalar.
json resolve_plain(const std::string& s) {
  if (s == "true" || s == "True" || s == "TRUE") {
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    return false;
  }
  if (s == "null" || s == "Null" || s == "NULL" || s == "~" || s.empty()) {
    return nullptr;
  }
  if (is_int_decimal(s)) {
    std::int64_t v = 0;
    const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
    const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), v);
    if (ec == std::errc() && end == s.data() + s.size()) {
      return v;
    }
    std::uint64_t u = 0;
    const auto [uend, uec] = std::from_chars(begin, s.data() + s.size(), u);
    if (uec == std::errc() && uend == s.data() + s.size()) {
      return u;
    }
    return std::stod(s);
  }
  if (is_int_octal(s) || is_int_hex(s)) {
    std::uint64_t v = 0;
    const int base = s[1] == 'o' ? 8 : 16;
    const auto [end, ec] = std::from_chars(s.data() + 2, s.data() + s.size(), v, base);
    if (ec == std::errc() && end == s.data() + s.size() && v <= static_cast<std::uint64_t>(INT64_MAX)) {
      return static_cast<std::int64_t>(v);
    }
    return s;
  }
  if (is_float(s)) {
    const double d = std::stod(s);
    if (std::isfinite(d)) {
      return d;
    }
  }
  return s;
}

class Converter {
 public:
  explicit Converter(SourceMap& positions) : m_positions(positions) {}

  json convert(const YAML::Node& node, const json::json_pointer& ptr) {
    switch (node.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        return nullptr;
      case YAML::NodeType::Scalar: {
        const std::string& tag = node.Tag();
        if (tag == "!" || tag == "tag:yaml.org,2002:str") {
          return node.Scalar();
        }
        return resolve_plain(node.Scalar());
      }
      case YAML::NodeType::Sequence: {
        json out = json::array();
        std::size_t i = 0;
        for (const auto& element : node) {
          const auto child = ptr / i++;
          const SourcePosition at = position_of(element.Mark());
          m_positions.add(child, at, at);
          out.push_back(convert(element, child));
        }
        return out;
      }
      case YAML::NodeType::Map: {
        json out = json::object();
        for (auto it = node.begin(); it != node.end(); ++it) {
          const YAML::Node key = it->first;  // copies: GCC 12 flags references into the proxy pair
          const YAML::Node value = it->second;
          const SourcePosition key_at = position_of(key.Mark());
          if (!key.IsScalar()) {
            throw YamlFailure{key_at, "mapping keys must be strings"};
          }
          const std::string& name = key.Scalar();
          if (out.contains(name)) {
            const auto first = m_positions.key(ptr / name);
            throw YamlFailure{key_at, fmt::format("mapping key \"{}\" already defined at line {}", name,
                                                  first ? first->line : key_at.line)};
          }
          SourcePosition value_at = position_of(value.Mark());
          // An empty value ("key:" then a new line) has no token of its own:
          // yaml-cpp marks the next one, so point at the key instead.
          if (value.IsNull() && value_at.line != key_at.line) {
            value_at = key_at;
          }
          const auto child = ptr / name;
          m_positions.add(child, key_at, value_at);
          out[name] = convert(value, child);
        }
        return out;
      }
    }
    return nullptr;
  }

 private:
  SourceMap& m_positions;
};

// ---- emitting -------------------------------------------------------------------

// What Go's strconv.ParseInt/ParseUint take with base 0 (go-yaml resolves a
// plain scalar as an int when they do): [-+]? then 0x/0o/0b digits or decimal.
bool is_go_integer(std::string_view s) {
  s = without_sign(s);
  if (s.size() > 2 && s[0] == '0') {
    const auto digits = s.substr(2);
    switch (s[1]) {
      case 'x':
      case 'X':
        return all_nonempty(digits, is_hex_digit);
      case 'o':
      case 'O':
        return all_nonempty(digits, is_octal_digit);
      case 'b':
      case 'B':
        return all_nonempty(digits, [](char c) { return c == '0' || c == '1'; });
      default:
        break;
    }
  }
  return all_nonempty(s, is_digit);
}

// YAML 1.1's sexagesimal numbers: [-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?
bool is_base60(std::string_view s) {
  s = without_sign(s);
  if (s.empty() || !is_digit(s.front())) {
    return false;
  }
  while (!s.empty() && (is_digit(s.front()) || s.front() == '_')) {
    s.remove_prefix(1);
  }
  int groups = 0;
  while (!s.empty() && s.front() == ':') {
    s.remove_prefix(1);
    std::string_view group = s;
    const auto n = take_digits(s, 2);
    if (n == 0 || (n == 2 && group[0] > '5')) {
      return false;
    }
    ++groups;
  }
  if (groups == 0) {
    return false;
  }
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    while (!s.empty() && (is_digit(s.front()) || s.front() == '_')) {
      s.remove_prefix(1);
    }
  }
  return s.empty();
}

// Whether a YAML 1.1 reader (go-yaml, used by kubectl) or a YAML 1.2 core-schema
// reader would take the plain scalar for a number or a timestamp: go-yaml's own
// rule for quoting a string (its ints and floats after removing underscores,
// base 60, dates), so that `-o yaml` quotes exactly what kubectl quotes.
bool looks_like_number_or_date(const std::string& s) {
  const char c = s[0];
  if (!(is_digit(c) || c == '+' || c == '-' || c == '.')) {
    return false;
  }
  std::string plain(s);
  plain.erase(std::remove(plain.begin(), plain.end(), '_'), plain.end());
  return is_go_integer(plain) || is_float(plain) || is_base60(s) || is_date_prefixed(s);
}

bool is_reserved_word(const std::string& s) {
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
  static const char* const k_words[] = {"true", "false", "yes",  "no",    "on",    "off",  "y", "n",
                                        "null", "~",     ".inf", "-.inf", "+.inf", ".nan", "<<"};
  return std::any_of(std::begin(k_words), std::end(k_words), [&](const char* w) { return lower == w; });
}

bool plain_safe(const std::string& s) {
  if (s.empty() || is_reserved_word(s) || looks_like_number_or_date(s)) {
    return false;
  }
  if (std::string_view("-?:,[]{}#&*!|>'\"%@` \t").find(s.front()) != std::string_view::npos) {
    return false;
  }
  if (s.back() == ' ' || s.back() == ':' || s.back() == '\t') {
    return false;
  }
  for (const char ch : s) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
      return false;
    }
  }
  return s.find(": ") == std::string::npos && s.find(" #") == std::string::npos;
}

std::string scalar_text(const json& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (plain_safe(s)) {
      return s;
    }
    return v.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (v.is_object()) {
    return "{}";
  }
  if (v.is_array()) {
    return "[]";
  }
  return json_text(v);
}

void emit_sequence(const json& array, std::size_t indent, std::string& out, bool first_inline);

void emit_mapping(const json& object, std::size_t indent, std::string& out, bool first_inline) {
  bool first = true;
  for (const auto& [key, value] : object.items()) {
    if (!(first && first_inline)) {
      out.append(indent, ' ');
    }
    first = false;
    out += scalar_text(json(key));
    out += ':';
    if (value.is_object() && !value.empty()) {
      out += '\n';
      emit_mapping(value, indent + 2, out, false);
    } else if (value.is_array() && !value.empty()) {
      out += '\n';
      emit_sequence(value, indent, out, false);
    } else {
      out += ' ';
      out += scalar_text(value);
      out += '\n';
    }
  }
}

void emit_sequence(const json& array, std::size_t indent, std::string& out, bool first_inline) {
  bool first = true;
  for (const auto& element : array) {
    if (!(first && first_inline)) {
      out.append(indent, ' ');
    }
    first = false;
    out += "- ";
    if (element.is_object() && !element.empty()) {
      emit_mapping(element, indent + 2, out, true);
    } else if (element.is_array() && !element.empty()) {
      emit_sequence(element, indent + 2, out, true);
    } else {
      out += scalar_text(element);
      out += '\n';
    }
  }
}

}  // namespace

void SourceMap::add(const nlohmann::json::json_pointer& pointer, SourcePosition key, SourcePosition value) {
  m_entries[pointer.to_string()] = {key, value};
}

std::optional<SourcePosition> SourceMap::key(const nlohmann::json::json_pointer& pointer) const {
  const auto it = m_entries.find(pointer.to_string());
  if (it == m_entries.end()) {
    return std::nullopt;
  }
  return it->second.first;
}

std::optional<SourcePosition> SourceMap::value(const nlohmann::json::json_pointer& pointer) const {
  const auto it = m_entries.find(pointer.to_string());
  if (it == m_entries.end()) {
    return std::nullopt;
  }
  return it->second.second;
}

SourcePosition SourceMap::nearest(nlohmann::json::json_pointer pointer, bool want_key) const {
  while (true) {
    const auto it = m_entries.find(pointer.to_string());
    if (it != m_entries.end()) {
      return want_key ? it->second.first : it->second.second;
    }
    if (pointer.empty()) {
      return {};
    }
    pointer.pop_back();
  }
}

Result<std::vector<YamlDocument>> parse_yaml_stream(std::string_view text) {
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    const SourcePosition at = position_of(e.mark);
    return Error(ErrorCode::invalid, fmt::format("malformed YAML: {}", e.msg))
        .with_causes(
            {FieldCause{{}, fmt::format("malformed YAML: {}", e.msg), fmt::format("{}:{}", at.line, at.column), {}}});
  }
  std::vector<YamlDocument> documents;
  for (const auto& node : nodes) {
    if (node.IsNull() || !node.IsDefined()) {
      continue;
    }
    YamlDocument doc;
    doc.start = position_of(node.Mark());
    doc.positions.add(json::json_pointer(""), doc.start, doc.start);
    try {
      Converter converter(doc.positions);
      doc.value = converter.convert(node, json::json_pointer(""));
    } catch (const YamlFailure& failure) {
      const std::string message = fmt::format("malformed YAML: {}", failure.message);
      return Error(ErrorCode::invalid, message)
          .with_causes(
              {FieldCause{{}, message, fmt::format("{}:{}", failure.position.line, failure.position.column), {}}});
    }
    documents.push_back(std::move(doc));
  }
  return documents;
}

std::string to_yaml(const nlohmann::json& value) {
  std::string out;
  if (value.is_object() && !value.empty()) {
    emit_mapping(value, 0, out, false);
  } else if (value.is_array() && !value.empty()) {
    emit_sequence(value, 0, out, false);
  } else {
    out = scalar_text(value) + "\n";
  }
  return out;
}

std::string to_yaml_stream(const std::vector<nlohmann::json>& values) {
  std::string out;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) {
      out += "---\n";
    }
    out += to_yaml(values[i]);
  }
  return out;
}

}  // namespace gpuorch::model
