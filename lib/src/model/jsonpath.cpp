#include <gpuorch/model/jsonpath.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace gpuorch::model {

using nlohmann::json;

namespace {

struct Path;

/// One array selector: an index (`[n]`) or a slice (`[a:b:c]`).
struct Subscript {
  bool slice = false;
  std::optional<std::int64_t> start;
  std::optional<std::int64_t> end;
  std::optional<std::int64_t> step;
};

struct Filter {
  std::shared_ptr<Path> left;
  std::string op;  ///< "" tests presence
  std::shared_ptr<Path> right;
};

struct Step {
  enum class Kind { root, current, field, wildcard, recursive, subscripts, filter };
  Kind kind = Kind::current;
  std::vector<std::string> names;     ///< field: one name, or a union of names
  std::vector<Subscript> subscripts;  ///< subscripts: one or a union
  std::shared_ptr<Filter> filter;
};

/// A path (`.items[*].metadata.name`) or a literal (`"\n"`, 3, true).
struct Path {
  std::vector<Step> steps;
  std::optional<json> literal;
};

/// A piece of the template: literal text, an action `{...}` (a union of
/// paths), or a range loop with its body.
struct Segment {
  enum class Kind { text, action, range };
  Kind kind = Kind::text;
  std::string text;
  std::vector<Path> union_of;
  std::vector<Segment> body;
};

Error syntax_error(std::string_view text, const std::string& why) {
  return Error(ErrorCode::usage, fmt::format("jsonpath template \"{}\": {}", text, why));
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

/// Index of the quote that closes the one at `open`, honouring backslashes;
/// npos when unterminated.
std::size_t closing_quote(std::string_view s, std::size_t open) {
  const char quote = s[open];
  for (std::size_t i = open + 1; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == quote) {
      return i;
    }
  }
  return std::string_view::npos;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// The contents of a quoted literal with Go's escapes (\n \t \r \\ \" \' \uXXXX ...).
Result<std::string> unquote(std::string_view quoted, std::string_view whole) {
  std::string out;
  for (std::size_t i = 1; i + 1 < quoted.size(); ++i) {
    const char c = quoted[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (i + 2 >= quoted.size()) {
      return syntax_error(whole, "unterminated escape in " + std::string(quoted));
    }
    const char e = quoted[++i];
    switch (e) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
      case '"':
      case '\'':
        out += e;
        break;
      case 'u':
      case 'U': {
        const std::size_t digits = e == 'u' ? 4 : 8;
        if (i + digits >= quoted.size()) {
          return syntax_error(whole, "invalid escape in " + std::string(quoted));
        }
        std::uint32_t cp = 0;
        const auto hex = quoted.substr(i + 1, digits);
        auto [ptr, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), cp, 16);
        if (ec != std::errc() || ptr != hex.data() + hex.size()) {
          return syntax_error(whole, "invalid escape in " + std::string(quoted));
        }
        append_utf8(out, cp);
        i += digits;
        break;
      }
      default:
        return syntax_error(whole, std::string("invalid escape \\") + e + " in " + std::string(quoted));
    }
  }
  return out;
}

/// Splits at `sep` outside quotes, brackets and parentheses.
std::vector<std::string_view> split_top_level(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  int depth = 0;
  std::size_t begin = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\') {
      ++i;
    } else if (c == '"' || c == '\'') {
      const auto close = closing_quote(s, i);
      i = close == std::string_view::npos ? s.size() : close;
    } else if (c == '[' || c == '(') {
      ++depth;
    } else if (c == ']' || c == ')') {
      --depth;
    } else if (c == sep && depth == 0) {
      parts.push_back(s.substr(begin, i - begin));
      begin = i + 1;
    }
  }
  parts.push_back(s.substr(begin));
  return parts;
}

std::optional<std::int64_t> parse_int(std::string_view s) {
  s = trim(s);
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) {
    return std::nullopt;
  }
  return value;
}

Result<Path> parse_path(std::string_view expr, std::string_view whole);

Result<Step> parse_bracket(std::string_view content, std::string_view whole) {
  content = trim(content);
  Step step;
  if (content == "*") {
    step.kind = Step::Kind::wildcard;
    return step;
  }
  if (content.starts_with("?(") && content.ends_with(")")) {
    auto inner = trim(content.substr(2, content.size() - 3));
    auto filter = std::make_shared<Filter>();
    // The operator is the first one outside quotes.
    std::size_t op_at = std::string_view::npos;
    std::string op;
    for (std::size_t i = 0; i < inner.size(); ++i) {
      const char c = inner[i];
      if (c == '"' || c == '\'') {
        const auto close = closing_quote(inner, i);
        if (close == std::string_view::npos) {
          return syntax_error(whole, "unterminated string in filter " + std::string(content));
        }
        i = close;
        continue;
      }
      const auto two = inner.substr(i, 2);
      if (two == "==" || two == "!=" || two == "<=" || two == ">=") {
        op = std::string(two);
      } else if (c == '<' || c == '>') {
        op = std::string(1, c);
      } else {
        continue;
      }
      op_at = i;
      break;
    }
    const auto left_text = op_at == std::string_view::npos ? inner : inner.substr(0, op_at);
    GPUORCH_ASSIGN_OR_RETURN(auto left, parse_path(trim(left_text), whole));
    filter->left = std::make_shared<Path>(std::move(left));
    if (op_at != std::string_view::npos) {
      filter->op = op;
      GPUORCH_ASSIGN_OR_RETURN(auto right, parse_path(trim(inner.substr(op_at + op.size())), whole));
      filter->right = std::make_shared<Path>(std::move(right));
    }
    step.kind = Step::Kind::filter;
    step.filter = std::move(filter);
    return step;
  }
  if (content.empty()) {
    return syntax_error(whole, "empty brackets []");
  }
  if (content.front() == '"') {
    // kubectl accepts only single quotes for keys.
    return syntax_error(whole, "invalid array index " + std::string(content));
  }
  if (content.front() == '\'') {
    step.kind = Step::Kind::field;
    for (auto part : split_top_level(content, ',')) {
      part = trim(part);
      if (part.size() < 2 || part.front() != '\'' || closing_quote(part, 0) != part.size() - 1) {
        return syntax_error(whole, "invalid key " + std::string(part) + " in [" + std::string(content) + "]");
      }
      step.names.emplace_back(part.substr(1, part.size() - 2));
    }
    return step;
  }
  step.kind = Step::Kind::subscripts;
  for (auto part : split_top_level(content, ',')) {
    part = trim(part);
    Subscript sub;
    if (part.find(':') == std::string_view::npos) {
      auto index = parse_int(part);
      if (!index) {
        return syntax_error(whole, "invalid array index " + std::string(part));
      }
      sub.start = index;
    } else {
      sub.slice = true;
      std::vector<std::string_view> bounds;
      std::size_t begin = 0;
      for (std::size_t i = 0; i <= part.size(); ++i) {
        if (i == part.size() || part[i] == ':') {
          bounds.push_back(trim(part.substr(begin, i - begin)));
          begin = i + 1;
        }
      }
      if (bounds.size() > 3) {
        return syntax_error(whole, "invalid array slice " + std::string(part));
      }
      std::optional<std::int64_t>* targets[] = {&sub.start, &sub.end, &sub.step};
      for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (bounds[i].empty()) {
          continue;
        }
        auto value = parse_int(bounds[i]);
        if (!value) {
          return syntax_error(whole, "invalid array slice " + std::string(part));
        }
        *targets[i] = value;
      }
    }
    step.subscripts.push_back(sub);
  }
  return step;
}

bool ends_field_name(char c) {
  return is_space(c) || c == '.' || c == '[' || c == ']' || c == '(' || c == ')' || c == ',' || c == '=' || c == '!' ||
         c == '<' || c == '>' || c == '"' || c == '\'' || c == '{' || c == '}';
}

/// A field name after '.', with `\.` (and any `\c`) taken literally.
std::string read_field_name(std::string_view expr, std::size_t& i) {
  std::string name;
  while (i < expr.size() && !ends_field_name(expr[i])) {
    if (expr[i] == '\\' && i + 1 < expr.size()) {
      ++i;
    }
    name += expr[i];
    ++i;
  }
  return name;
}

/// One dot-separated segment of a bracketed key, from `at` up to the next
/// unescaped dot (left at `at`), with `\.` read as a dot.
std::string read_key_segment(std::string_view key, std::size_t& at) {
  std::string out;
  while (at < key.size() && key[at] != '.') {
    if (key[at] == '\\' && at + 1 < key.size()) {
      ++at;
    }
    out += key[at];
    ++at;
  }
  return out;
}

Result<Path> parse_path(std::string_view expr, std::string_view whole) {
  Path path;
  expr = trim(expr);
  if (expr.empty()) {
    return syntax_error(whole, "empty expression");
  }
  if (expr.front() == '"' || expr.front() == '\'') {
    if (closing_quote(expr, 0) != expr.size() - 1) {
      return syntax_error(whole, "invalid string literal " + std::string(expr));
    }
    GPUORCH_ASSIGN_OR_RETURN(auto text, unquote(expr, whole));
    path.literal = json(std::move(text));
    return path;
  }
  if (expr == "true" || expr == "false") {
    path.literal = json(expr == "true");
    return path;
  }
  if (expr.front() == '-' || (expr.front() >= '0' && expr.front() <= '9')) {
    if (auto integer = parse_int(expr)) {
      path.literal = json(*integer);
      return path;
    }
    double number = 0;
    auto [ptr, ec] = std::from_chars(expr.data(), expr.data() + expr.size(), number);
    if (ec == std::errc() && ptr == expr.data() + expr.size()) {
      path.literal = json(number);
      return path;
    }
    return syntax_error(whole, "invalid number " + std::string(expr));
  }
  std::size_t i = 0;
  while (i < expr.size()) {
    const char c = expr[i];
    if (c == '$') {
      path.steps.push_back({Step::Kind::root, {}, {}, nullptr});
      ++i;
    } else if (c == '@') {
      path.steps.push_back({Step::Kind::current, {}, {}, nullptr});
      ++i;
    } else if (c == '.') {
      ++i;
      if (i < expr.size() && expr[i] == '.') {
        ++i;
        path.steps.push_back({Step::Kind::recursive, {}, {}, nullptr});
        if (i < expr.size() && expr[i] == '[') {
          continue;
        }
      }
      if (i < expr.size() && expr[i] == '*') {
        ++i;
        path.steps.push_back({Step::Kind::wildcard, {}, {}, nullptr});
        continue;
      }
      auto name = read_field_name(expr, i);
      if (name.empty()) {
        if (i < expr.size() && expr[i] != '[') {
          return syntax_error(whole, fmt::format("unexpected '{}' after '.' in {}", expr[i], expr));
        }
        if (!path.steps.empty() && path.steps.back().kind == Step::Kind::recursive) {
          return syntax_error(whole, "a name must follow '..' in " + std::string(expr));
        }
        continue;  // "{.}" is the current object
      }
      path.steps.push_back({Step::Kind::field, {std::move(name)}, {}, nullptr});
    } else if (c == '[') {
      // Find the matching ']' outside quotes and nested brackets.
      int depth = 0;
      std::size_t close = std::string_view::npos;
      for (std::size_t j = i; j < expr.size(); ++j) {
        if (expr[j] == '"' || expr[j] == '\'') {
          const auto q = closing_quote(expr, j);
          if (q == std::string_view::npos) {
            break;
          }
          j = q;
        } else if (expr[j] == '[') {
          ++depth;
        } else if (expr[j] == ']' && --depth == 0) {
          close = j;
          break;
        }
      }
      if (close == std::string_view::npos) {
        return syntax_error(whole, "unterminated array in " + std::string(expr));
      }
      GPUORCH_ASSIGN_OR_RETURN(auto step, parse_bracket(expr.substr(i + 1, close - i - 1), whole));
      if (step.kind == Step::Kind::field && step.names.size() == 1) {
        // As in kubectl, ['a.b'] is the path .a.b; write ['a\\.b'] for a key with a dot.
        const std::string key = step.names.front();
        std::size_t at = 0;
        while (at <= key.size()) {
          auto name = read_key_segment(key, at);
          path.steps.push_back({Step::Kind::field, {std::move(name)}, {}, nullptr});
          ++at;  // past the dot
        }
      } else {
        for (auto& name : step.names) {
          std::size_t at = 0;
          name = read_key_segment(name, at);
        }
        path.steps.push_back(std::move(step));
      }
      i = close + 1;
    } else if (path.steps.empty() && !ends_field_name(c)) {
      // A leading name without a dot ("{metadata.name}") reads as ".metadata.name".
      auto name = read_field_name(expr, i);
      path.steps.push_back({Step::Kind::field, {std::move(name)}, {}, nullptr});
    } else {
      return syntax_error(
          whole, fmt::format("unrecognized character in action: U+{:04X} '{}'", static_cast<unsigned char>(c), c));
    }
  }
  return path;
}

/// Index of the '}' closing the action opened at `open`, skipping quoted text.
std::size_t closing_brace(std::string_view text, std::size_t open) {
  for (std::size_t i = open + 1; i < text.size(); ++i) {
    if (text[i] == '"' || text[i] == '\'') {
      const auto close = closing_quote(text, i);
      if (close == std::string_view::npos) {
        return std::string_view::npos;
      }
      i = close;
    } else if (text[i] == '}') {
      return i;
    }
  }
  return std::string_view::npos;
}

// ---- evaluation ----------------------------------------------------------------------

using Values = std::vector<const json*>;

struct Evaluator {
  const json& root;
  bool allow_missing;

  Result<Values> eval(const Path& path, const Values& input) const {
    if (path.literal) {
      return Values{&*path.literal};
    }
    Values current = input;
    for (const auto& step : path.steps) {
      GPUORCH_ASSIGN_OR_RETURN(current, apply(step, current));
    }
    return current;
  }

  Result<Values> apply(const Step& step, const Values& input) const {
    Values out;
    switch (step.kind) {
      case Step::Kind::root:
        return Values{&root};
      case Step::Kind::current:
        return input;
      case Step::Kind::field:
        for (const json* value : input) {
          if (value->is_null()) {
            continue;
          }
          for (const auto& name : step.names) {
            if (value->is_object()) {
              if (auto it = value->find(name); it != value->end()) {
                out.push_back(&*it);
                continue;
              }
            }
            if (!allow_missing) {
              return Error(ErrorCode::not_found, name + " is not found");
            }
          }
        }
        return out;
      case Step::Kind::wildcard:
        for (const json* value : input) {
          if (value->is_object() || value->is_array()) {
            for (const auto& child : *value) {
              out.push_back(&child);
            }
          }
        }
        return out;
      case Step::Kind::recursive:
        for (const json* value : input) {
          collect_containers(*value, out);
        }
        return out;
      case Step::Kind::subscripts:
        for (const json* value : input) {
          if (value->is_null()) {
            continue;
          }
          if (!value->is_array()) {
            return Error(ErrorCode::not_found, fmt::format("{} is not array or slice", jsonpath_text(*value)));
          }
          for (const auto& sub : step.subscripts) {
            GPUORCH_TRY(select(*value, sub, out));
          }
        }
        return out;
      case Step::Kind::filter:
        for (const json* value : input) {
          if (value->is_null()) {
            continue;
          }
          if (!value->is_array()) {
            return Error(ErrorCode::not_found,
                         fmt::format("{} is not array or slice and cannot be filtered", jsonpath_text(*value)));
          }
          for (const auto& element : *value) {
            GPUORCH_ASSIGN_OR_RETURN(auto pass, matches(*step.filter, element));
            if (pass) {
              out.push_back(&element);
            }
          }
        }
        return out;
    }
    return out;
  }

  /// `..`: every container below (and including) the value, in document order.
  static void collect_containers(const json& value, Values& out) {
    if ((value.is_object() || value.is_array()) && !value.empty()) {
      out.push_back(&value);
      for (const auto& child : value) {
        collect_containers(child, out);
      }
    }
  }

  static Status select(const json& array, const Subscript& sub, Values& out) {
    const auto length = static_cast<std::int64_t>(array.size());
    if (!sub.slice) {
      std::int64_t index = *sub.start;
      if (index < 0) {
        index += length;
      }
      if (index < 0 || index >= length) {
        return Error(ErrorCode::not_found,
                     fmt::format("array index out of bounds: index {}, length {}", index, length));
      }
      out.push_back(&array[static_cast<std::size_t>(index)]);
      return {};
    }
    // kubectl's bounds: negative values count from the end; a non-empty
    // range must lie within the array (no clamping).
    std::int64_t start = sub.start.value_or(0);
    std::int64_t end = sub.end.value_or(length);
    const std::int64_t step = sub.step.value_or(1);
    if (start < 0) {
      start += length;
    }
    if (end < 0) {
      end += length;
    }
    if (start == end) {
      return {};
    }
    if (start >= length || start < 0) {
      return Error(ErrorCode::not_found, fmt::format("array index out of bounds: index {}, length {}", start, length));
    }
    if (end > length || end < 0) {
      return Error(ErrorCode::not_found,
                   fmt::format("array index out of bounds: index {}, length {}", end - 1, length));
    }
    if (start > end) {
      return Error(ErrorCode::not_found, fmt::format("starting index {} is greater than ending index {}", start, end));
    }
    if (step <= 0) {
      return Error(ErrorCode::not_found, fmt::format("step must be > 0, got {}", step));
    }
    for (std::int64_t i = start; i < end; i += step) {
      out.push_back(&array[static_cast<std::size_t>(i)]);
    }
    return {};
  }

  Result<bool> matches(const Filter& filter, const json& element) const {
    Evaluator lenient{root, true};
    GPUORCH_ASSIGN_OR_RETURN(auto lefts, lenient.eval(*filter.left, Values{&element}));
    lefts.erase(std::remove_if(lefts.begin(), lefts.end(), [](const json* v) { return v->is_null(); }), lefts.end());
    if (filter.op.empty()) {
      return !lefts.empty();
    }
    GPUORCH_ASSIGN_OR_RETURN(auto rights, lenient.eval(*filter.right, Values{&element}));
    if (lefts.empty() || rights.empty()) {
      return false;
    }
    if (lefts.size() > 1 || rights.size() > 1) {
      return Error(ErrorCode::not_found, "can only compare one element at a time");
    }
    return compare(*lefts.front(), filter.op, *rights.front());
  }

  static bool compare(const json& a, const std::string& op, const json& b) {
    int order = 0;
    if (a.is_number() && b.is_number()) {
      if (a.is_number_float() || b.is_number_float()) {
        const double x = a.get<double>();
        const double y = b.get<double>();
        order = x < y ? -1 : (x > y ? 1 : 0);
      } else {
        const auto x = a.get<std::int64_t>();
        const auto y = b.get<std::int64_t>();
        order = x < y ? -1 : (x > y ? 1 : 0);
      }
    } else if (a.is_string() && b.is_string()) {
      const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
      order = c < 0 ? -1 : (c > 0 ? 1 : 0);
    } else if (a.is_boolean() && b.is_boolean()) {
      if (op == "==") {
        return a == b;
      }
      if (op == "!=") {
        return a != b;
      }
      return false;
    } else {
      return op == "!=";
    }
    if (op == "==") {
      return order == 0;
    }
    if (op == "!=") {
      return order != 0;
    }
    if (op == "<") {
      return order < 0;
    }
    if (op == "<=") {
      return order <= 0;
    }
    if (op == ">") {
      return order > 0;
    }
    return order >= 0;
  }

  Status render(const std::vector<Segment>& segments, const Values& current, std::string& out) const {
    for (const auto& segment : segments) {
      switch (segment.kind) {
        case Segment::Kind::text:
          out += segment.text;
          break;
        case Segment::Kind::action: {
          Values results;
          for (const auto& path : segment.union_of) {
            GPUORCH_ASSIGN_OR_RETURN(auto values, eval(path, current));
            results.insert(results.end(), values.begin(), values.end());
          }
          bool first = true;
          for (const json* value : results) {
            if (value->is_null()) {
              continue;
            }
            if (!first) {
              out += ' ';
            }
            first = false;
            out += jsonpath_text(*value);
          }
          break;
        }
        case Segment::Kind::range: {
          Values items;
          for (const auto& path : segment.union_of) {
            GPUORCH_ASSIGN_OR_RETURN(auto values, eval(path, current));
            items.insert(items.end(), values.begin(), values.end());
          }
          for (const json* item : items) {
            if (item->is_null()) {
              continue;
            }
            GPUORCH_TRY(render(segment.body, Values{item}, out));
          }
          break;
        }
      }
    }
    return {};
  }
};

/// Go's %v for a float64: the shortest representation that reads back,
/// in exponent form below 1e-4 and from 1e21.
std::string go_float(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  if (value == 0) {
    return std::signbit(value) ? "-0" : "0";
  }
  char buffer[64];
  auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific);
  std::string sci(buffer, ptr);
  const auto e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  const int exponent = std::stoi(sci.substr(e + 1));
  const bool negative = mantissa.front() == '-';
  if (negative) {
    mantissa.erase(0, 1);
  }
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') {
      digits += c;
    }
  }
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 21) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
    return out;
  }
  if (exponent < 0) {
    out += "0.";
    out += std::string(static_cast<std::size_t>(-exponent - 1), '0');
    out += digits;
    return out;
  }
  const auto integral = static_cast<std::size_t>(exponent) + 1;
  if (digits.size() <= integral) {
    out += digits;
    out += std::string(integral - digits.size(), '0');
  } else {
    out += digits.substr(0, integral);
    out += '.';
    out += digits.substr(integral);
  }
  return out;
}

/// Go's json.Marshal escapes <, > and & (and U+2028/9) inside strings; they
/// cannot appear outside strings in JSON text, so a plain replacement is exact.
std::string go_json(const json& value) {
  const std::string dumped = value.dump(-1, ' ', false, json::error_handler_t::replace);
  std::string out;
  out.reserve(dumped.size());
  for (std::size_t i = 0; i < dumped.size(); ++i) {
    const char c = dumped[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xE2' && i + 2 < dumped.size() && dumped[i + 1] == '\x80' &&
               (dumped[i + 2] == '\xA8' || dumped[i + 2] == '\xA9')) {
      out += dumped[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

struct JsonPath::Template {
  std::vector<Segment> segments;
};

JsonPath::JsonPath(std::string text, std::shared_ptr<const Template> parsed)
    : m_text(std::move(text)), m_template(std::move(parsed)) {}

Result<JsonPath> JsonPath::parse(std::string_view text) {
  auto parsed = std::make_shared<Template>();
  // The body being filled: the top level, or the innermost open range.
  std::vector<std::vector<Segment>*> open{&parsed->segments};
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto brace = text.find('{', pos);
    if (brace != pos) {
      Segment literal;
      literal.text = std::string(text.substr(pos, brace == std::string_view::npos ? text.npos : brace - pos));
      open.back()->push_back(std::move(literal));
      if (brace == std::string_view::npos) {
        break;
      }
    }
    const auto close = closing_brace(text, brace);
    if (close == std::string_view::npos) {
      return syntax_error(text, "unclosed action");
    }
    const auto action = trim(text.substr(brace + 1, close - brace - 1));
    pos = close + 1;
    if (action == "end") {
      if (open.size() == 1) {
        return syntax_error(text, "{end} without a {range}");
      }
      open.pop_back();
      continue;
    }
    Segment segment;
    std::string_view expression = action;
    if (action.starts_with("range") && (action.size() == 5 || is_space(action[5]))) {
      segment.kind = Segment::Kind::range;
      expression = trim(action.substr(5));
    } else {
      segment.kind = Segment::Kind::action;
    }
    if (expression.empty()) {
      return syntax_error(text, "empty action {}");
    }
    GPUORCH_ASSIGN_OR_RETURN(auto path, parse_path(expression, text));
    segment.union_of.push_back(std::move(path));
    open.back()->push_back(std::move(segment));
    if (open.back()->back().kind == Segment::Kind::range) {
      open.push_back(&open.back()->back().body);
    }
  }
  if (open.size() != 1) {
    return syntax_error(text, "{range} without an {end}");
  }
  return JsonPath(std::string(text), std::move(parsed));
}

Result<std::string> JsonPath::execute(const json& data, bool allow_missing_keys) const {
  Evaluator evaluator{data, allow_missing_keys};
  std::string out;
  if (auto status = evaluator.render(m_template->segments, Values{&data}, out); !status) {
    return Error(status.error().code(),
                 fmt::format("error executing jsonpath \"{}\": {}", m_text, status.error().message()));
  }
  return out;
}

Result<std::vector<const json*>> JsonPath::values(const json& data) const {
  Evaluator evaluator{data, true};
  std::vector<const json*> out;
  // Ranges contribute the values of their bodies' actions, item by item.
  std::function<Status(const std::vector<Segment>&, const Values&)> collect = [&](const std::vector<Segment>& segments,
                                                                                  const Values& current) -> Status {
    for (const auto& segment : segments) {
      if (segment.kind == Segment::Kind::text) {
        continue;
      }
      Values results;
      for (const auto& path : segment.union_of) {
        GPUORCH_ASSIGN_OR_RETURN(auto found, evaluator.eval(path, current));
        results.insert(results.end(), found.begin(), found.end());
      }
      for (const json* value : results) {
        if (value->is_null()) {
          continue;
        }
        if (segment.kind == Segment::Kind::range) {
          GPUORCH_TRY(collect(segment.body, Values{value}));
        } else {
          out.push_back(value);
        }
      }
    }
    return {};
  };
  if (auto status = collect(m_template->segments, Values{&data}); !status) {
    return Error(status.error().code(),
                 fmt::format("error executing jsonpath \"{}\": {}", m_text, status.error().message()));
  }
  return out;
}

std::string jsonpath_text(const json& value) {
  switch (value.type()) {
    case json::value_t::string:
      return value.get<std::string>();
    case json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
      return std::to_string(value.get<std::int64_t>());
    case json::value_t::number_unsigned:
      return std::to_string(value.get<std::uint64_t>());
    case json::value_t::number_float:
      return go_float(value.get<double>());
    case json::value_t::null:
      return "";
    default:
      return go_json(value);
  }
}

}  // namespace gpuorch::model
