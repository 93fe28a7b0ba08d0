#include <gpuorch/model/cron.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

namespace gpuorch::model {

std::string cron_schedule_error(std::string_view schedule_text) {
  const std::string schedule(schedule_text);
  if (schedule.starts_with("TZ=") || schedule.starts_with("CRON_TZ=")) {
    return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead";
  }
  if (schedule.starts_with("@")) {
    static const char* k_descriptors[] = {"@yearly", "@annually", "@monthly", "@weekly",
                                          "@daily",  "@midnight", "@hourly"};
    for (const char* d : k_descriptors) {
      if (schedule == d) {
        return {};
      }
    }
    if (schedule.starts_with("@every ") && schedule.size() > 7) {
      return {};
    }
    return "unrecognized descriptor: " + schedule;
  }
  std::vector<std::string> fields;
  std::string cur;
  for (const char c : schedule + " ") {
    if (c == ' ' || c == '\t') {
      if (!cur.empty()) {
        fields.push_back(cur);
      }
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (fields.size() != 5) {
    return "expected exactly 5 fields, found " + std::to_string(fields.size()) + ": " + schedule;
  }
  // minute, hour, day of month, month, day of week
  static const int k_min[] = {0, 0, 1, 1, 0};
  static const int k_max[] = {59, 23, 31, 12, 7};
  static const std::vector<std::string> k_months = {"jan", "feb", "mar", "apr", "may", "jun",
                                                    "jul", "aug", "sep", "oct", "nov", "dec"};
  static const std::vector<std::string> k_days = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  for (std::size_t f = 0; f < 5; ++f) {
    const auto value_of = [&](std::string text, int& out) {
      std::transform(text.begin(), text.end(), text.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      const auto& names = f == 3 ? k_months : f == 4 ? k_days : std::vector<std::string>{};
      for (std::size_t i = 0; i < names.size(); ++i) {
        if (text == names[i]) {
          out = static_cast<int>(i) + (f == 3 ? 1 : 0);
          return true;
        }
      }
      if (text.empty() || text.size() > 2 || !std::all_of(text.begin(), text.end(), ::isdigit)) {
        return false;
      }
      out = std::stoi(text);
      return out >= k_min[f] && out <= k_max[f];
    };
    std::size_t start = 0;
    const std::string& field = fields[f];
    while (start <= field.size()) {
      const auto comma = field.find(',', start);
      std::string part = field.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      const auto slash = part.find('/');
      if (slash != std::string::npos) {
        const std::string step = part.substr(slash + 1);
        if (step.empty() || !std::all_of(step.begin(), step.end(), ::isdigit) || step.size() > 2 ||
            std::stoi(step) == 0) {
          return "invalid step in \"" + field + "\"";
        }
        part = part.substr(0, slash);
      }
      if (part != "*" && part != "?") {
        const auto dash = part.find('-');
        int lo = 0;
        int hi = 0;
        const bool ok = dash == std::string::npos
                            ? value_of(part, lo)
                            : value_of(part.substr(0, dash), lo) && value_of(part.substr(dash + 1), hi) && lo <= hi;
        if (!ok) {
          return "failed to parse \"" + part + "\" in \"" + field + "\"";
        }
      }
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
  }
  return {};
}

}  // namespace gpuorch::model
