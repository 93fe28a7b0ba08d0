#include "app.hpp"

#include <algorithm>
#include <ostream>

#include <gpuorch/base/error.hpp>

#include "commands.hpp"
#include "completion.hpp"
#include "exit_codes.hpp"
#include "kube_completion.hpp"
#include "logging.hpp"
#include "signals.hpp"

namespace gpuorch::cli {
namespace {

void bind_global_flags(CLI::App& app, GlobalOptions& g) {
  const std::string group = "Global options";
  app.add_option("--kubeconfig", g.kubeconfig, "Path to the kubeconfig file to use (no merging)")
      ->group(group)
      ->type_name("FILE");
  app.add_option("--context", g.context, "The name of the kubeconfig context to use")->group(group)->type_name("NAME");
  app.add_option("--cluster", g.cluster, "The name of the kubeconfig cluster to use")->group(group)->type_name("NAME");
  app.add_option("--user", g.user, "The name of the kubeconfig user to use")->group(group)->type_name("NAME");
  app.add_option("-n,--namespace", g.namespace_name, "The namespace scope for this request")
      ->group(group)
      ->type_name("NS");
  app.add_option("-s,--server", g.server, "The address and port of the Kubernetes API server")
      ->group(group)
      ->type_name("URL");
  app.add_option("--token", g.token, "Bearer token for authentication to the API server")
      ->group(group)
      ->type_name("TOKEN");
  app.add_option("--certificate-authority", g.certificate_authority,
                 "Path to a cert file for the certificate authority")
      ->group(group)
      ->type_name("FILE");
  app.add_option("--client-certificate", g.client_certificate, "Path to a client certificate file for TLS")
      ->group(group)
      ->type_name("FILE");
  app.add_option("--client-key", g.client_key, "Path to a client key file for TLS")->group(group)->type_name("FILE");
  app.add_flag("--insecure-skip-tls-verify", g.insecure_skip_tls_verify,
               "Do not verify the server's certificate (insecure)")
      ->group(group);
  app.add_option("--tls-server-name", g.tls_server_name,
                 "Server name to use for server certificate validation (default: the server's host name)")
      ->group(group)
      ->type_name("NAME");
  app.add_option("--request-timeout", g.request_timeout,
                 "Time to wait for one server request (e.g. 1s, 2m; 0 = no timeout)")
      ->group(group)
      ->type_name("DURATION");
  app.add_flag("--in-cluster", g.in_cluster, "Use the in-cluster service account configuration")->group(group);
  app.add_option("-v,--v", g.verbosity, "Log verbosity (0-9; 6+ logs requests, 8+ headers, secrets redacted)")
      ->group(group)
      ->type_name("LEVEL")
      ->check(CLI::Range(0, 9));
  app.add_option("--log-format", g.log_format, "Log format on stderr")
      ->group(group)
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}));
}

// The deepest subcommand the parser selected (the root when none was).
const CLI::App* selected_command(const CLI::App& app) {
  const CLI::App* shown = &app;
  for (;;) {
    auto selected = shown->get_subcommands();
    if (selected.empty()) {
      return shown;
    }
    shown = selected.front();
  }
}

// "gpuorch completion" for the completion subcommand: what the user types.
std::string command_path(const CLI::App& command, const std::string& program_name) {
  std::vector<std::string> names;
  for (const CLI::App* a = &command; a->get_parent() != nullptr; a = a->get_parent()) {
    names.push_back(a->get_name());
  }
  std::string path = program_name;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    path += ' ';
    path += *it;
  }
  return path;
}

// CLI11 reports parse errors with its own exit codes (100-127); gpuorch
// documents 2 for every usage error and prints one `error:` line.
int report_parse_error(Context& ctx, const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* command = selected_command(app);
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
    // --help and friends: CLI11 signals them as "errors" with code 0.
    if (dynamic_cast<const CLI::CallForAllHelp*>(&e) != nullptr) {
      ctx.io.out << app.help("", CLI::AppFormatMode::All);
    } else if (command == &app) {
      ctx.io.out << app.help();
    } else {
      // help(prev) prefixes the usage line with prev: "Usage: gpuorch version [OPTIONS]".
      const std::string path = command_path(*command, ctx.program_name);
      ctx.io.out << command->help(path.substr(0, path.rfind(' ')));
    }
    return k_exit_ok;
  }
  std::string message = e.what();
  if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr && command->get_require_subcommand_min() > 0 &&
      command->get_subcommands().empty()) {
    const auto rest = command->remaining();
    message = rest.empty()
                  ? "a command is required"
                  : "unknown command \"" + rest.front() + "\" for \"" + command_path(*command, ctx.program_name) + "\"";
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    // kubectl's wording: name the first argument nobody consumed.
    const auto extras = app.remaining(true);
    if (!extras.empty()) {
      message = extras.front().starts_with("-") ? "unknown flag: " + extras.front()
                                                : "unexpected argument \"" + extras.front() + "\"";
    }
  }
  ctx.io.err << "error: " << message << '\n';
  ctx.io.err << "Run '" << command_path(*command, ctx.program_name) << " --help' for usage.\n";
  return k_exit_usage;
}

// Whether `option` takes a value (so that the next word, when not attached
// with '=', is that value rather than a command).
bool takes_value(const CLI::Option& option) {
  return option.get_type_size_max() > 0 && option.get_expected_max() > 0;
}

}  // namespace

std::string_view command_named_by(const CLI::App& globals, const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    // Help before the command is the root's help, which lists every command.
    if (word == "--" || word == "--help-all" || word == "--help" || word == "-h") {
      return {};
    }
    if (word.size() > 1 && word.front() == '-') {
      // "--name VALUE" and "-n VALUE" consume the next word; "--name=VALUE"
      // and "-nVALUE" do not.
      const bool attached = word.find('=') != std::string::npos || (!word.starts_with("--") && word.size() > 2);
      if (!attached) {
        for (const CLI::Option* option : globals.get_options()) {
          if (option->check_name(word) && takes_value(*option)) {
            ++i;
            break;
          }
        }
      }
      continue;
    }
    for (const CommandSpec& command : command_table()) {
      if (command.name == word) {
        return command.name;
      }
    }
    return {};
  }
  return {};
}

namespace {

// The root: description, global flags and their completers, no commands yet.
std::unique_ptr<CLI::App> build_root(Context& ctx) {
  auto app = std::make_unique<CLI::App>(
      "gpuorch runs GPU workloads on Kubernetes: it places GPUWorkload resources on nodes with free GPUs, "
      "runs them as Jobs, retries failures and reports status, Events and metrics.",
      ctx.program_name);
  app->require_subcommand(1);
  app->fallthrough();  // global flags are accepted after the subcommand too, like kubectl
  app->set_help_all_flag("--help-all", "Print help for every command");
  bind_global_flags(*app, ctx.global);
  register_kube_completers(ctx, *app);
  return app;
}

void add_commands(CLI::App& app, Context& ctx, std::string_view only_command) {
  for (const auto& command : command_table()) {
    if (only_command.empty() || command.name == only_command) {
      command.setup(app, ctx);
    }
  }
  // kubectl's words in --help: "Usage: gpuorch [OPTIONS] COMMAND", "Commands:".
  app.get_formatter()->label("SUBCOMMAND", "COMMAND");
  app.get_formatter()->label("SUBCOMMANDS", "COMMANDS");
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_group() == "Subcommands") {
      sub->group("Commands");
    }
  }
}

}  // namespace

std::unique_ptr<CLI::App> build_app(Context& ctx, std::string_view only_command) {
  auto app = build_root(ctx);
  add_commands(*app, ctx, only_command);
  return app;
}

int run_cli(Context& ctx, std::vector<std::string> args) {
  if (!args.empty() && args.front() == k_complete_command) {
    args.erase(args.begin());
    return run_complete_command(ctx, std::move(args));
  }
  auto app = build_root(ctx);
  add_commands(*app, ctx, command_named_by(*app, args));
  // CLI11 parses a reversed vector (it pops from the back).
  std::reverse(args.begin(), args.end());
  try {
    app->parse(args);
  } catch (const CLI::ParseError& e) {
    return report_parse_error(ctx, *app, e);
  }
  if (auto logging = setup_logging(ctx.global.verbosity, ctx.global.log_format, ctx.io.err); !logging.ok()) {
    print_error(ctx.io.err, logging.error());
    return exit_code_for(logging.error());
  }
  if (!ctx.run) {
    ctx.io.err << "error: no command selected\n";
    return k_exit_usage;
  }
  if (!ctx.cooperative_cancel) {
    release_signal_token();
  }
  int code = k_exit_error;
  try {
    code = ctx.run();
  } catch (const Failure& failure) {
    print_error(ctx.io.err, failure.error());
    code = exit_code_for(failure.error());
  } catch (const CLI::ParseError& e) {
    code = report_parse_error(ctx, *app, e);
  }
  // Interrupted (SIGINT) or terminated (SIGTERM) while the command ran: the
  // documented 130/143, whatever the command made of the cancellation
  // (unless stopping on a signal is how the command ends normally).
  if (ctx.signal_ends_normally) {
    return code;
  }
  return signal_exit_code(ctx.cancel).value_or(code);
}

}  // namespace gpuorch::cli
