#pragma once
// Command-line parsing the benchmark drivers share: `--flag VALUE` pairs
// bound to setters, positional words, and everything after `--` passed
// through to the program under test.

#include <cstddef>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace gpuorch::bench {

struct BenchArgs {
  std::vector<std::string> positional;
  std::vector<std::string> extra;  ///< the words after `--`
};

/// Each flag of `flags` takes one value, handed to its setter; an unknown
/// `--flag` or a flag without its value throws (the message names it).
inline BenchArgs parse_bench_args(int argc, char** argv,
                                  const std::map<std::string, std::function<void(const std::string&)>>& flags) {
  BenchArgs parsed;
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      parsed.extra.assign(args.begin() + static_cast<std::ptrdiff_t>(i) + 1, args.end());
      break;
    }
    const auto flag = flags.find(a);
    if (flag != flags.end()) {
      if (i + 1 >= args.size()) {
        throw std::runtime_error(a + " needs a value");
      }
      flag->second(args[++i]);
    } else if (a.size() > 1 && a[0] == '-') {
      throw std::runtime_error("unknown flag " + a);
    } else {
      parsed.positional.push_back(a);
    }
  }
  return parsed;
}

}  // namespace gpuorch::bench
