#include "app.hpp"

#include <algorithm>
#include <ostream>

#include <gpuorch/base/error.hpp>

#include "commands.hpp"
#include "exit_codes.hpp"
#include "logging.hpp"

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

// CLI11 reports parse errors with its own exit codes (100-127); gpuorch
// documents 2 for every usage error.
int report_parse_error(Context& ctx, const CLI::App& app, const CLI::ParseError& e) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
    // --help and friends: CLI11 signals them as "errors" with code 0.
    if (dynamic_cast<const CLI::CallForAllHelp*>(&e) != nullptr) {
      ctx.io.out << app.help("", CLI::AppFormatMode::All);
    } else {
      const CLI::App* shown = &app;
      // Show the help of the deepest subcommand that was selected.
      for (const CLI::App* sub = shown; sub != nullptr;) {
        auto selected = sub->get_subcommands();
        if (selected.empty()) {
          break;
        }
        shown = selected.front();
        sub = shown;
      }
      ctx.io.out << shown->help();
    }
    return k_exit_ok;
  }
  std::string message = e.what();
  ctx.io.err << "error: " << message << '\n';
  ctx.io.err << "Run '" << ctx.program_name << " --help' for usage.\n";
  return k_exit_usage;
}

}  // namespace

std::unique_ptr<CLI::App> build_app(Context& ctx) {
  auto app = std::make_unique<CLI::App>(
      "gpuorch runs GPU workloads on Kubernetes: it places GPUWorkload resources on nodes with free GPUs, "
      "runs them as Jobs, retries failures and reports status, Events and metrics.",
      ctx.program_name);
  app->require_subcommand(1);
  app->fallthrough();  // global flags are accepted after the subcommand too, like kubectl
  app->set_help_all_flag("--help-all", "Print help for every command");
  bind_global_flags(*app, ctx.global);
  for (const auto& command : command_table()) {
    command.setup(*app, ctx);
  }
  return app;
}

int run_cli(Context& ctx, std::vector<std::string> args) {
  auto app = build_app(ctx);
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
  try {
    return ctx.run();
  } catch (const Failure& failure) {
    print_error(ctx.io.err, failure.error());
    return exit_code_for(failure.error());
  } catch (const CLI::ParseError& e) {
    return report_parse_error(ctx, *app, e);
  }
}

}  // namespace gpuorch::cli
