#include "completion.hpp"

#include <algorithm>
#include <map>
#include <ostream>
#include <set>

#include "completion_scripts.hpp"

namespace gpuorch::cli {

/// Dynamic completers by option, filled by the commands' setup functions.
class CompletionRegistry {
 public:
  std::map<const CLI::Option*, Completer> completers;
};

void register_completer(Context& ctx, const CLI::Option* option, Completer completer) {
  if (!ctx.completers) {
    ctx.completers = std::make_shared<CompletionRegistry>();
  }
  ctx.completers->completers[option] = std::move(completer);
}

Completer fixed_completer(std::vector<Candidate> candidates) {
  return [candidates = std::move(candidates)](Context&, std::string_view) {
    return Completions{candidates, k_complete_default};
  };
}

namespace {

bool hidden(const CLI::App& app) {
  return app.get_group().empty() || app.get_name().empty();
}
bool hidden(const CLI::Option& opt) {
  return opt.get_group().empty();
}
bool takes_value(const CLI::Option& opt) {
  return opt.get_expected_max() > 0 && opt.get_type_size_max() > 0;
}
bool repeatable(const CLI::Option& opt) {
  return opt.get_items_expected_max() >= CLI::detail::expected_max_vector_size;
}

/// The type name an option was declared with ("FILE"), without the
/// validator descriptions CLI11 appends (":{json,yaml}").
std::string base_type_name(const CLI::Option& opt) {
  std::string name = opt.get_type_name();
  return name.substr(0, name.find(':'));
}

/// The values an option accepts, from its CLI::IsMember check ("{json,yaml}")
/// or its CLI::Range check over integers ("INT in [0 - 9]").
std::vector<std::string> choices_of(CLI::Option& opt) {
  std::vector<std::string> values;
  for (int i = 0;; ++i) {
    const CLI::Validator* validator = nullptr;
    try {
      validator = opt.get_validator(i);  // throws past the last one
    } catch (const CLI::OptionNotFound&) {
      break;
    }
    if (validator == nullptr) {
      break;
    }
    const std::string desc = validator->get_description();
    if (desc.size() >= 2 && desc.front() == '{' && desc.back() == '}') {
      std::string_view body(desc);
      body = body.substr(1, body.size() - 2);
      while (!body.empty()) {
        const auto comma = body.find(',');
        values.emplace_back(body.substr(0, comma));
        body = comma == std::string_view::npos ? std::string_view{} : body.substr(comma + 1);
      }
    } else if (desc.starts_with("INT in [")) {
      long lo = 0;
      long hi = 0;
      if (std::sscanf(desc.c_str(), "INT in [%ld - %ld]", &lo, &hi) == 2 && hi >= lo && hi - lo < 100) {
        for (long v = lo; v <= hi; ++v) {
          values.push_back(std::to_string(v));
        }
      }
    }
  }
  return values;
}

/// Finds a flag by name ("--output", "-o") in `app` or, because global flags
/// fall through to the root, in its ancestors.
CLI::Option* find_flag(CLI::App& app, const std::string& name) {
  for (CLI::App* a = &app; a != nullptr; a = a->get_parent()) {
    for (CLI::Option* opt : a->get_options()) {
      if (opt->nonpositional() && opt->check_name(name)) {
        return opt;
      }
    }
  }
  return nullptr;
}

CLI::App* find_subcommand(CLI::App& app, const std::string& name) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (!sub->get_disabled() && sub->check_name(name)) {
      return sub;
    }
  }
  return nullptr;
}

std::vector<CLI::Option*> positionals_of(CLI::App& app) {
  return app.get_options([](CLI::Option* opt) { return opt->get_positional() && !opt->nonpositional(); });
}

class Engine {
 public:
  Engine(Context& ctx, CLI::App& root) : m_ctx(ctx), m_command(&root) {}

  Completions run(const std::vector<std::string>& words) {
    if (words.empty()) {
      return {{}, k_complete_error};
    }
    // Walk the completed words to find the command, the flags already given
    // and how many positional arguments the command has consumed.
    CLI::Option* pending_value_for = nullptr;
    for (std::size_t i = 0; i + 1 < words.size(); ++i) {
      const std::string& word = words[i];
      if (pending_value_for != nullptr) {
        apply(*pending_value_for, word);
        pending_value_for = nullptr;
      } else if (m_after_dashes || word == "-" || !word.starts_with("-")) {
        if (word == "-" || m_after_dashes) {
          ++m_positionals_seen;
        } else if (CLI::App* sub = m_positionals_seen == 0 ? find_subcommand(*m_command, word) : nullptr) {
          m_command = sub;
        } else {
          ++m_positionals_seen;
        }
      } else if (word == "--") {
        m_after_dashes = true;
      } else if (word.starts_with("--")) {
        const auto eq = word.find('=');
        CLI::Option* opt = find_flag(*m_command, word.substr(0, eq));
        if (opt != nullptr) {
          m_used.insert(opt);
          if (eq != std::string::npos) {
            apply(*opt, word.substr(eq + 1));
          } else if (takes_value(*opt)) {
            pending_value_for = opt;
          } else {
            apply(*opt, "true");
          }
        }
      } else {
        // Short flags, possibly combined (-Av) or with an attached value (-njobs).
        for (std::size_t k = 1; k < word.size(); ++k) {
          CLI::Option* opt = find_flag(*m_command, std::string("-") + word[k]);
          if (opt == nullptr) {
            break;
          }
          m_used.insert(opt);
          if (takes_value(*opt)) {
            if (k + 1 < word.size()) {
              apply(*opt, word.substr(k + 1));
            } else {
              pending_value_for = opt;
            }
            break;
          }
          apply(*opt, "true");
        }
      }
    }

    apply_all();
    const std::string& current = words.back();
    if (pending_value_for != nullptr) {
      return value_completions(*pending_value_for, current, "");
    }
    if (!m_after_dashes && current.starts_with("--") && current.find('=') != std::string::npos) {
      const auto eq = current.find('=');
      CLI::Option* opt = find_flag(*m_command, current.substr(0, eq));
      // A flag whose mode may follow after '=' (delete --dry-run=server) completes its modes.
      if (opt == nullptr || (!takes_value(*opt) && choices_of(*opt).empty())) {
        return {{}, k_complete_error};
      }
      return value_completions(*opt, current.substr(eq + 1), current.substr(0, eq + 1));
    }
    if (!m_after_dashes && current.starts_with("-")) {
      return flag_completions(current);
    }
    return argument_completions(current);
  }

 private:
  // Flags already on the line are applied to the context, so dynamic
  // completers see e.g. --kubeconfig and --namespace.
  void apply(CLI::Option& opt, const std::string& value) { m_values[&opt].push_back(value); }

  void apply_all() {
    for (auto& [opt, values] : m_values) {
      try {
        opt->clear();
        for (const auto& v : values) {
          opt->add_result(v);
        }
        opt->run_callback();
      } catch (const CLI::Error&) {
        // An invalid value earlier on the line does not stop completion.
      }
    }
    m_values.clear();
  }

  static Completions filtered(Completions in, std::string_view prefix, const std::string& add_prefix) {
    Completions out;
    out.directive = in.directive;
    for (auto& c : in.candidates) {
      if (c.value.starts_with(prefix)) {
        out.candidates.push_back({add_prefix + c.value, std::move(c.description)});
      }
    }
    return out;
  }

  Completions dynamic(const CLI::Option& opt, const std::string& prefix, bool& found) {
    found = false;
    if (!m_ctx.completers) {
      return {};
    }
    auto it = m_ctx.completers->completers.find(&opt);
    if (it == m_ctx.completers->completers.end()) {
      return {};
    }
    found = true;
    return it->second(m_ctx, prefix);
  }

  Completions value_completions(CLI::Option& opt, const std::string& prefix, const std::string& add_prefix) {
    bool found = false;
    Completions result = dynamic(opt, prefix, found);
    if (found) {
      return filtered(std::move(result), prefix, add_prefix);
    }
    const auto choices = choices_of(opt);
    if (!choices.empty()) {
      Completions c{{}, k_complete_default};
      for (const auto& v : choices) {
        c.candidates.push_back({v, ""});
      }
      return filtered(std::move(c), prefix, add_prefix);
    }
    const std::string type = base_type_name(opt);
    if (type.find("FILE") != std::string::npos) {
      return {{}, k_complete_files};
    }
    if (type.find("DIR") != std::string::npos) {
      return {{}, k_complete_dirs};
    }
    // A free-form value (a name, a duration): nothing sensible to offer, and
    // file names would be wrong.
    return {{}, k_complete_default};
  }

  Completions flag_completions(const std::string& prefix) {
    Completions result;
    std::set<std::string> seen;
    for (CLI::App* a = m_command; a != nullptr; a = a->get_parent()) {
      for (CLI::Option* opt : a->get_options()) {
        if (!opt->nonpositional() || hidden(*opt) || (m_used.contains(opt) && !repeatable(*opt))) {
          continue;
        }
        std::vector<std::string> names;
        for (const auto& l : opt->get_lnames()) {
          names.push_back("--" + l);
        }
        for (const auto& s : opt->get_snames()) {
          names.push_back("-" + s);
        }
        for (const auto& name : names) {
          if (name.starts_with(prefix) && seen.insert(name).second) {
            result.candidates.push_back({name, opt->get_description()});
          }
        }
      }
    }
    return result;
  }

  Completions argument_completions(const std::string& prefix) {
    Completions result;
    if (m_positionals_seen == 0 && !m_after_dashes) {
      for (CLI::App* sub : m_command->get_subcommands([](CLI::App*) { return true; })) {
        if (!hidden(*sub) && !sub->get_disabled() && sub->get_name().starts_with(prefix)) {
          result.candidates.push_back({sub->get_name(), sub->get_description()});
        }
      }
    }
    // The positional argument this word would fill.
    int index = m_positionals_seen;
    for (CLI::Option* opt : positionals_of(*m_command)) {
      const int capacity = opt->get_items_expected_max();
      if (index < capacity) {
        Completions values = value_completions(*opt, prefix, "");
        result.candidates.insert(result.candidates.end(), values.candidates.begin(), values.candidates.end());
        result.directive |= values.directive;
        return result;
      }
      index -= capacity;
    }
    return result;
  }

  Context& m_ctx;
  CLI::App* m_command;
  std::set<const CLI::Option*> m_used;
  std::map<CLI::Option*, std::vector<std::string>> m_values;
  int m_positionals_seen = 0;
  bool m_after_dashes = false;
};

}  // namespace

Completions complete(Context& ctx, CLI::App& app, const std::vector<std::string>& words) {
  return Engine(ctx, app).run(words);
}

void write_completions(std::ostream& out, const Completions& completions) {
  for (const auto& c : completions.candidates) {
    out << c.value;
    if (!c.description.empty()) {
      // One line per candidate: the protocol is line-based.
      std::string description = c.description;
      std::replace(description.begin(), description.end(), '\n', ' ');
      std::replace(description.begin(), description.end(), '\t', ' ');
      out << '\t' << description;
    }
    out << '\n';
  }
  out << ':' << completions.directive << '\n';
}

Completions to_cobra_directives(Completions completions) {
  constexpr unsigned k_cobra_error = 1;
  constexpr unsigned k_cobra_no_space = 2;
  constexpr unsigned k_cobra_no_file = 4;
  constexpr unsigned k_cobra_dirs = 16;
  const unsigned ours = completions.directive;
  if ((ours & k_complete_error) != 0) {
    return {{}, k_cobra_error};
  }
  unsigned cobra = (ours & k_complete_no_space) != 0 ? k_cobra_no_space : 0;
  if ((ours & k_complete_dirs) != 0) {
    completions.candidates.clear();
    cobra |= k_cobra_dirs;
  } else if ((ours & k_complete_files) != 0) {
    completions.candidates.clear();
  } else {
    cobra |= k_cobra_no_file;
  }
  completions.directive = cobra;
  return completions;
}

std::string_view completion_script(std::string_view shell) {
  if (shell == "bash") {
    return k_bash_completion_script;
  }
  if (shell == "zsh") {
    return k_zsh_completion_script;
  }
  if (shell == "fish") {
    return k_fish_completion_script;
  }
  return {};
}

}  // namespace gpuorch::cli
