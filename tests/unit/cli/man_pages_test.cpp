// Keeps the man pages and the CLI definition from disagreeing: walks the tree
// that build_app() builds (the one --help prints) and checks man/*.scd.
// Conventions: docs/development.md, "Man pages".

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "app.hpp"

namespace gpuorch::cli {
namespace {

namespace fs = std::filesystem;

const fs::path k_man_dir = fs::path(GPUORCH_SOURCE_DIR) / "man";

const std::vector<std::string> k_required_sections = {
    "NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO",
};

/// A parsed scdoc page: its title line and its sections in order.
struct ManPage {
  std::string title;
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::string>> sections;
};

ManPage read_page(const fs::path& path) {
  std::ifstream in(path);
  ManPage page;
  std::string line;
  std::string current;
  bool first = true;
  while (std::getline(in, line)) {
    if (first) {
      page.title = line;
      first = false;
    } else if (line.starts_with("# ")) {
      current = line.substr(2);
      page.order.push_back(current);
      page.sections[current];
    } else if (!current.empty()) {
      page.sections[current].push_back(line);
    }
  }
  return page;
}

/// Flags documented in a section: every `*-x*` or `*--name*` on the lines that
/// start an entry (a line beginning with `*-`).
std::set<std::string> documented_flags(const std::vector<std::string>& lines) {
  static const std::regex k_flag(R"(\*(--?[A-Za-z0-9][A-Za-z0-9-]*)\*)");
  std::set<std::string> flags;
  for (const auto& line : lines) {
    if (!line.starts_with("*-")) {
      continue;
    }
    for (std::sregex_iterator it(line.begin(), line.end(), k_flag), end; it != end; ++it) {
      flags.insert((*it)[1].str());
    }
  }
  return flags;
}

/// Entries of a section that are plain words in bold at the start of a line (`*version*`).
std::set<std::string> documented_words(const std::vector<std::string>& lines) {
  static const std::regex k_entry(R"(\*([a-z][a-z0-9-]*)\*)");
  std::set<std::string> words;
  for (const auto& line : lines) {
    std::smatch m;
    if (std::regex_match(line, m, k_entry)) {
      words.insert(m[1].str());
    }
  }
  return words;
}

const std::vector<std::string>& section(const ManPage& page, const std::string& name) {
  static const std::vector<std::string> k_empty;
  const auto it = page.sections.find(name);
  return it == page.sections.end() ? k_empty : it->second;
}

std::set<std::string> flag_names(const CLI::Option& opt) {
  std::set<std::string> names;
  for (const auto& l : opt.get_lnames()) {
    names.insert("--" + l);
  }
  for (const auto& s : opt.get_snames()) {
    names.insert("-" + s);
  }
  return names;
}

/// The flags a command defines itself (not the global ones, not its help flags,
/// which gpuorch(1) documents once), or every root flag for the root.
std::set<std::string> own_flags(CLI::App& command) {
  std::set<std::string> flags;
  const bool root = command.get_parent() == nullptr;
  for (const CLI::Option* opt : command.get_options()) {
    if (!opt->nonpositional() || opt->get_group().empty()) {
      continue;
    }
    if (!root && (opt == command.get_help_ptr() || opt == command.get_help_all_ptr())) {
      continue;
    }
    const auto names = flag_names(*opt);
    flags.insert(names.begin(), names.end());
  }
  return flags;
}

bool hidden(const CLI::App& app) {
  return app.get_group().empty() || app.get_name().empty();
}

/// Every visible command below `app`, with its path ("completion", "config view").
void collect_commands(CLI::App& app, const std::string& prefix, std::vector<std::pair<std::string, CLI::App*>>& out) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (hidden(*sub)) {
      continue;
    }
    const std::string path = prefix.empty() ? sub->get_name() : prefix + " " + sub->get_name();
    out.emplace_back(path, sub);
    collect_commands(*sub, path, out);
  }
}

std::string join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    out += (out.empty() ? "" : " ") + i;
  }
  return out;
}

std::set<std::string> minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::set<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

void check_sections(const ManPage& page) {
  // The required sections, in this order (others may sit in between).
  std::size_t at = 0;
  for (const auto& required : k_required_sections) {
    CAPTURE(required);
    const auto it = std::find(page.order.begin() + static_cast<std::ptrdiff_t>(at), page.order.end(), required);
    CHECK_MESSAGE(it != page.order.end(), "section missing or out of order");
    if (it != page.order.end()) {
      at = static_cast<std::size_t>(it - page.order.begin());
      const auto& body = page.sections.at(required);
      CHECK_MESSAGE(std::any_of(body.begin(), body.end(), [](const std::string& l) { return !l.empty(); }),
                    "section is empty");
    }
  }
}

struct Fixture {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  Context ctx{Io{in, out, err}};
  std::unique_ptr<CLI::App> app = build_app(ctx);
};

}  // namespace

TEST_CASE("gpuorch(1) documents every global flag and lists every command") {
  Fixture f;
  const fs::path path = k_man_dir / "gpuorch.1.scd";
  REQUIRE_MESSAGE(fs::exists(path), path.string());
  const ManPage page = read_page(path);
  CHECK(page.title == "gpuorch(1)");
  check_sections(page);

  const auto actual = own_flags(*f.app);
  const auto documented = documented_flags(section(page, "OPTIONS"));
  CHECK_MESSAGE(minus(actual, documented).empty(), "undocumented global flags: " << join(minus(actual, documented)));
  CHECK_MESSAGE(minus(documented, actual).empty(), "documented but not flags: " << join(minus(documented, actual)));

  std::set<std::string> commands;
  for (CLI::App* sub : f.app->get_subcommands([](CLI::App*) { return true; })) {
    if (!hidden(*sub)) {
      commands.insert(sub->get_name());
    }
  }
  REQUIRE_MESSAGE(page.sections.contains("COMMANDS"), "gpuorch(1) needs a COMMANDS section");
  const auto listed = documented_words(section(page, "COMMANDS"));
  CHECK_MESSAGE(minus(commands, listed).empty(), "commands missing from COMMANDS: " << join(minus(commands, listed)));
  CHECK_MESSAGE(minus(listed, commands).empty(), "COMMANDS lists non-commands: " << join(minus(listed, commands)));

  std::string see_also;
  for (const auto& l : section(page, "SEE ALSO")) {
    see_also += l;
  }
  for (const auto& c : commands) {
    CAPTURE(c);
    CHECK(see_also.find("*gpuorch-" + c + "*(1)") != std::string::npos);
  }
}

TEST_CASE("every command has a man page documenting exactly its flags") {
  Fixture f;
  std::vector<std::pair<std::string, CLI::App*>> commands;
  collect_commands(*f.app, "", commands);
  REQUIRE(!commands.empty());
  for (const auto& [command_path, command] : commands) {
    std::string name = "gpuorch-" + command_path;
    std::replace(name.begin(), name.end(), ' ', '-');
    CAPTURE(name);
    const fs::path path = k_man_dir / (name + ".1.scd");
    CHECK_MESSAGE(fs::exists(path), "missing man page " << path.string());
    if (!fs::exists(path)) {
      continue;
    }
    const ManPage page = read_page(path);
    CHECK(page.title == name + "(1)");
    check_sections(page);
    const auto& name_section = section(page, "NAME");
    CHECK_MESSAGE(std::any_of(name_section.begin(), name_section.end(),
                              [&](const std::string& l) { return l.starts_with(name + " - "); }),
                  "NAME must read \"" << name << " - <what it does>\"");
    std::string synopsis;
    for (const auto& l : section(page, "SYNOPSIS")) {
      synopsis += l + "\n";
    }
    CHECK_MESSAGE(synopsis.find("*gpuorch " + command_path) != std::string::npos,
                  "SYNOPSIS must show *gpuorch " << command_path << "...*");

    const auto actual = own_flags(*command);
    const auto documented = documented_flags(section(page, "OPTIONS"));
    CHECK_MESSAGE(minus(actual, documented).empty(), "undocumented flags: " << join(minus(actual, documented)));
    CHECK_MESSAGE(minus(documented, actual).empty(), "documented but not flags: " << join(minus(documented, actual)));
  }
}

TEST_CASE("the checks themselves: flags are read from entry lines only") {
  const std::vector<std::string> lines = {
      "*-o*, *--output* _FORMAT_", "\tSee *--wait* in the text.", "*--dry-run*=_MODE_", "", "*-A*",
  };
  CHECK(documented_flags(lines) == std::set<std::string>{"-o", "--output", "--dry-run", "-A"});
  CHECK(documented_words({"*version*", "\t*not-an-entry*", "*completion*"}) ==
        std::set<std::string>{"version", "completion"});
}

}  // namespace gpuorch::cli
