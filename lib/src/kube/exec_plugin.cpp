#include <gpuorch/kube/exec_plugin.hpp>

#include <cerrno>
#include <cstring>
#include <ctime>

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace gpuorch::kube {
namespace {

bool is_executable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0 && ::access(path.c_str(), F_OK) == 0;
}

std::optional<std::string> look_path(const std::string& command, const Environment& env) {
  if (command.find('/') != std::string::npos) {
    return is_executable(command) ? std::optional<std::string>(command) : std::nullopt;
  }
  std::string path = env.value("PATH");
  if (path.empty()) {
    path = "/usr/local/bin:/usr/bin:/bin";
  }
  std::size_t pos = 0;
  while (pos <= path.size()) {
    auto next = path.find(':', pos);
    if (next == std::string::npos) {
      next = path.size();
    }
    std::string dir = path.substr(pos, next - pos);
    pos = next + 1;
    if (dir.empty()) {
      dir = ".";
    }
    auto candidate = dir + "/" + command;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && is_executable(candidate)) {
      return candidate;
    }
  }
  return std::nullopt;
}

}  // namespace

Result<ProcessOutput> PosixProcessRunner::run(const ProcessSpec& spec) {
  const auto path = look_path(spec.command, spec.env);
  if (!path) {
    return Error(ErrorCode::not_found, fmt::format("executable \"{}\" not found", spec.command));
  }
  std::vector<std::string> argv_storage;
  argv_storage.push_back(spec.command);
  argv_storage.insert(argv_storage.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (const auto& [name, value] : spec.env.vars()) {
    env_storage.push_back(name + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& entry : env_storage) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return Error(ErrorCode::io, fmt::format("pipe: {}", std::strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  if (!spec.connect_stdin) {
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  }
  pid_t pid = 0;
  const int spawn_error = ::posix_spawn(&pid, path->c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawn_error != 0) {
    ::close(pipe_fds[0]);
    return Error(ErrorCode::io, fmt::format("starting \"{}\": {}", *path, std::strerror(spawn_error)));
  }
  ProcessOutput output;
  char buffer[4096];
  while (true) {
    const auto n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n > 0) {
      output.stdout_data.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(pipe_fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  output.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return output;
}

Result<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
      consumed != 19) {
    return Error(ErrorCode::invalid, fmt::format("invalid RFC 3339 time \"{}\"", text));
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  auto seconds = static_cast<long long>(::timegm(&tm));
  std::size_t pos = 19;
  long long nanos = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    long long scale = 100000000;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])) != 0) {
      nanos += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
  }
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z') && pos + 1 == text.size()) {
    // UTC
  } else if (pos + 6 == text.size() && (text[pos] == '+' || text[pos] == '-') && text[pos + 3] == ':') {
    const int hours = std::atoi(text.substr(pos + 1, 2).c_str());
    const int minutes = std::atoi(text.substr(pos + 4, 2).c_str());
    const long long offset = hours * 3600LL + minutes * 60LL;
    seconds += text[pos] == '+' ? -offset : offset;
  } else {
    return Error(ErrorCode::invalid, fmt::format("invalid RFC 3339 time \"{}\"", text));
  }
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(seconds) + std::chrono::nanoseconds(nanos)));
}

ExecCredentialProvider::ExecCredentialProvider(ExecConfig config, std::string cluster_info, Environment env,
                                               ProcessRunner& runner, Clock& clock, bool stdin_is_terminal,
                                               std::string owner)
    : m_config(std::move(config)),
      m_cluster_info(std::move(cluster_info)),
      m_env(std::move(env)),
      m_runner(runner),
      m_clock(clock),
      m_stdin_is_terminal(stdin_is_terminal),
      m_owner(std::move(owner)) {}

Result<ExecCredential> ExecCredentialProvider::get() {
  std::lock_guard lock(m_mutex);
  if (m_cached && (!m_cached->expiry || m_clock.now() < *m_cached->expiry)) {
    return *m_cached;
  }
  m_cached.reset();
  GPUORCH_ASSIGN_OR_RETURN(auto credential, run_plugin());
  m_cached = credential;
  return credential;
}

void ExecCredentialProvider::invalidate() {
  std::lock_guard lock(m_mutex);
  m_cached.reset();
}

int ExecCredentialProvider::runs() const {
  std::lock_guard lock(m_mutex);
  return m_runs;
}

Result<ExecCredential> ExecCredentialProvider::run_plugin() {
  const auto prefix = fmt::format("exec credential plugin \"{}\" for {}", m_config.command, m_owner);
  const auto auth_error = [&](const std::string& what) { return Error(ErrorCode::auth, prefix + ": " + what); };

  const std::string& mode = m_config.interactive_mode.empty() ? std::string("IfAvailable") : m_config.interactive_mode;
  bool interactive = false;
  if (mode == "Always") {
    if (!m_stdin_is_terminal) {
      return auth_error("interactiveMode is Always but standard input is not a terminal");
    }
    interactive = true;
  } else if (mode == "IfAvailable") {
    interactive = m_stdin_is_terminal;
  }

  nlohmann::json input = {
      {"kind", "ExecCredential"}, {"apiVersion", m_config.api_version}, {"spec", {{"interactive", interactive}}}};
  if (m_config.provide_cluster_info && !m_cluster_info.empty()) {
    input["spec"]["cluster"] = nlohmann::json::parse(m_cluster_info);
  }
  ProcessSpec spec;
  spec.command = m_config.command;
  spec.args = m_config.args;
  spec.env = m_env;
  for (const auto& var : m_config.env) {
    spec.env.set(var.name, var.value);
  }
  spec.env.set("KUBERNETES_EXEC_INFO", input.dump());
  spec.connect_stdin = interactive;

  ++m_runs;
  auto output = m_runner.run(spec);
  if (!output) {
    if (output.error().code() == ErrorCode::not_found) {
      std::string message = fmt::format("{} not found: no executable \"{}\"{}", prefix, m_config.command,
                                        m_config.command.find('/') == std::string::npos ? " on PATH" : "");
      if (!m_config.install_hint.empty()) {
        message += "\n" + m_config.install_hint;
      }
      return Error(ErrorCode::auth, message);
    }
    return auth_error(output.error().message());
  }
  if (output->exit_code != 0) {
    return auth_error(fmt::format("exited with status {} (its error output is shown above)", output->exit_code));
  }
  nlohmann::json reply;
  try {
    reply = nlohmann::json::parse(output->stdout_data);
  } catch (const nlohmann::json::exception&) {
    return auth_error("output is not a JSON ExecCredential");
  }
  if (!reply.is_object()) {
    return auth_error("output is not a JSON ExecCredential");
  }
  const auto api_version = reply.value("apiVersion", std::string());
  if (api_version != m_config.api_version) {
    return auth_error(fmt::format("returned apiVersion \"{}\", but the kubeconfig asks for \"{}\"", api_version,
                                  m_config.api_version));
  }
  if (reply.value("kind", std::string()) != "ExecCredential") {
    return auth_error(fmt::format("returned kind \"{}\", expected ExecCredential", reply.value("kind", std::string())));
  }
  const auto status = reply.find("status");
  if (status == reply.end() || !status->is_object()) {
    return auth_error("returned no status");
  }
  ExecCredential credential;
  const auto get_string = [&](const char* key) {
    auto it = status->find(key);
    return it != status->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  credential.token = get_string("token");
  credential.client_certificate_pem = get_string("clientCertificateData");
  credential.client_key_pem = get_string("clientKeyData");
  if (credential.client_certificate_pem.empty() != credential.client_key_pem.empty()) {
    return auth_error(credential.client_certificate_pem.empty()
                          ? "returned clientKeyData without clientCertificateData"
                          : "returned clientCertificateData without clientKeyData");
  }
  if (credential.token.empty() && credential.client_certificate_pem.empty()) {
    return auth_error("returned neither a token nor a client certificate and key");
  }
  if (auto expiry = get_string("expirationTimestamp"); !expiry.empty()) {
    auto parsed = parse_rfc3339(expiry);
    if (!parsed) {
      return auth_error("status.expirationTimestamp: " + parsed.error().message());
    }
    credential.expiry = *parsed;
  }
  return credential;
}

}  // namespace gpuorch::kube
