#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gpuorch/base/result.hpp>
#include <nlohmann/json.hpp>

namespace gpuorch::model {

/// A template in kubectl's JSONPath dialect (`kubectl get -o jsonpath=...`):
/// text outside braces is printed as it is; inside braces an expression:
/// `$` root, `@` current, `.field` (`\.` escapes a dot in a key), `['key']`,
/// `..field` recursive descent, `*` / `[*]` wildcard, `[n]` (negative from the
/// end), `[start:end:step]`, unions `[0,2]`, `['a','b']`, `{.a,.b}`, filters
/// `[?(@.a=="b")]` with == != < <= > >= or just `?(@.a)` for presence,
/// literals `{"\n"}` `{'text'}`, and `{range EXPR}...{end}` loops.
///
/// Output follows kubectl: strings raw, numbers and booleans as Go prints
/// them, objects and arrays as compact JSON (keys sorted), several results of
/// one expression separated by a space, nulls and missing fields printed as
/// nothing (kubectl's --allow-missing-template-keys=true).
class JsonPath {
 public:
  /// Parses a template; ErrorCode::usage naming the template on a syntax error.
  static Result<JsonPath> parse(std::string_view text);

  /// Renders the template for `data`. With `allow_missing_keys` false a field
  /// that is not there is an error ("field is not found") instead of nothing.
  /// Out-of-range indexes are errors either way (as in kubectl).
  [[nodiscard]] Result<std::string> execute(const nlohmann::json& data, bool allow_missing_keys = true) const;

  /// The values the template's actions select in `data` (text and nulls
  /// left out), pointing into `data` or the template's literals; what
  /// custom-columns prints. Missing fields select nothing.
  [[nodiscard]] Result<std::vector<const nlohmann::json*>> values(const nlohmann::json& data) const;

  [[nodiscard]] const std::string& text() const { return m_text; }

  struct Template;

 private:
  JsonPath(std::string text, std::shared_ptr<const Template> parsed);
  std::string m_text;
  std::shared_ptr<const Template> m_template;
};

/// One value as kubectl's JSONPath prints it (strings raw, compact JSON with
/// Go's escaping of <, > and & for objects and arrays, Go's float format).
std::string jsonpath_text(const nlohmann::json& value);

}  // namespace gpuorch::model
