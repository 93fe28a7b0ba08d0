// golden_runner: runs the real gpuorch binary for one golden case file and
// compares exit code, stdout and stderr with the expectations in the file.
//
//   golden_runner --binary PATH --case FILE [--update]
//
// GPUORCH_UPDATE_GOLDEN=1 in the environment has the same effect as --update:
// the expected sections of the case file are rewritten from the actual run.
// The case file format is documented in docs/development.md ("Golden CLI tests").

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

extern char** environ;

namespace {

constexpr std::string_view k_no_final_newline = " (no final newline)";

struct Section {
  std::string kind;  ///< "stdin", "stdout", "stderr" or "file"
  std::string path;  ///< for "file": where to create it, relative to $HOME
  std::string text;  ///< exact content
};

struct CaseFile {
  std::vector<std::string> header;  ///< header lines in order (comments, command:, env:, exit:, timeout:)
  std::vector<std::string> command;
  std::vector<std::pair<std::string, std::string>> env;
  std::optional<int> exit_code;
  int timeout_seconds = 60;
  std::vector<Section> inputs;  ///< stdin and file sections, in file order
  std::optional<std::string> stdout_text;
  std::optional<std::string> stderr_text;
};

/// The build information of the binary under test, read from the binary
/// itself (`gpuorch version -o json`), so the masks always match what it
/// prints even when the runner was built from another configuration.
struct BuildInfo {
  std::string version;
  std::string commit;
  std::string compiler;
  std::string build_type;
};

[[noreturn]] void die(const std::string& message) {
  std::cerr << "golden_runner: " << message << '\n';
  std::exit(2);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    die("cannot read " + path.string());
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::string::size_type start = 0;
  while (start < text.size()) {
    const auto end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

/// Splits a command line with POSIX-shell-like quoting: whitespace separates
/// words, '...' is literal, "..." allows \" and \\, a backslash outside quotes
/// escapes the next character.
std::vector<std::string> split_command(const std::string& line, const std::string& where) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ' || c == '\t') {
      if (in_word) {
        words.push_back(word);
        word.clear();
        in_word = false;
      }
      continue;
    }
    in_word = true;
    if (c == '\'') {
      const auto end = line.find('\'', i + 1);
      if (end == std::string::npos) {
        die(where + ": unterminated ' in command");
      }
      word += line.substr(i + 1, end - i - 1);
      i = end;
    } else if (c == '"') {
      ++i;
      for (; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size() && (line[i + 1] == '"' || line[i + 1] == '\\')) {
          ++i;
        }
        word += line[i];
      }
      if (i >= line.size()) {
        die(where + ": unterminated \" in command");
      }
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
    } else {
      word += c;
    }
  }
  if (in_word) {
    words.push_back(word);
  }
  return words;
}

/// Matches "--- stdout", "--- file .kube/config (no final newline)", ...
bool parse_section_header(const std::string& line, Section& section, bool& no_final_newline) {
  static const std::regex k_header(R"(--- (stdin|stdout|stderr|file ([^ ]+))( \(no final newline\))?)");
  std::smatch m;
  if (!std::regex_match(line, m, k_header)) {
    return false;
  }
  section = {};
  const std::string kind = m[1].str();
  if (kind.starts_with("file ")) {
    section.kind = "file";
    section.path = m[2].str();
  } else {
    section.kind = kind;
  }
  no_final_newline = m[3].matched;
  return true;
}

CaseFile parse_case(const fs::path& path) {
  const std::string text = read_file(path);
  CaseFile result;
  const auto lines = split_lines(text);
  std::size_t i = 0;
  Section section;
  bool no_final_newline = false;
  for (; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    const std::string where = path.string() + ":" + std::to_string(i + 1);
    if (parse_section_header(line, section, no_final_newline)) {
      break;
    }
    if (line.starts_with("--- ")) {
      die(where + ": unknown section \"" + line + "\" (stdin, file PATH, stdout, stderr)");
    }
    if (line.empty() || line.starts_with("#")) {
      result.header.push_back(line);
      continue;
    }
    const auto colon = line.find(": ");
    const std::string key = colon == std::string::npos ? line : line.substr(0, colon);
    const std::string value = colon == std::string::npos ? "" : line.substr(colon + 2);
    if (key == "command") {
      result.command = split_command(value, where);
      if (result.command.empty() || (result.command[0] != "gpuorch" && result.command[0] != "kubectl-gpuorch")) {
        die(where + ": the command must start with gpuorch or kubectl-gpuorch");
      }
    } else if (key == "env") {
      const auto eq = value.find('=');
      if (eq == std::string::npos || eq == 0) {
        die(where + ": env wants NAME=VALUE");
      }
      result.env.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else if (key == "exit") {
      try {
        result.exit_code = std::stoi(value);
      } catch (const std::exception&) {
        die(where + ": exit wants a number");
      }
    } else if (key == "timeout") {
      try {
        result.timeout_seconds = std::stoi(value);
      } catch (const std::exception&) {
        die(where + ": timeout wants seconds");
      }
    } else {
      die(where + ": unknown header line \"" + line + "\" (command:, env:, exit:, timeout:, # comment)");
    }
    result.header.push_back(line);
  }
  if (result.command.empty()) {
    die(path.string() + ": no \"command: gpuorch ...\" line");
  }
  // Sections: everything up to the next section header is the exact content.
  while (i < lines.size()) {
    Section current = section;
    const bool current_no_newline = no_final_newline;
    std::vector<std::string> body;
    for (++i; i < lines.size(); ++i) {
      if (parse_section_header(lines[i], section, no_final_newline)) {
        break;
      }
      body.push_back(lines[i]);
    }
    for (std::size_t k = 0; k < body.size(); ++k) {
      current.text += body[k];
      if (k + 1 < body.size() || !current_no_newline) {
        current.text += '\n';
      }
    }
    if (current.kind == "stdout") {
      result.stdout_text = current.text;
    } else if (current.kind == "stderr") {
      result.stderr_text = current.text;
    } else {
      result.inputs.push_back(current);
    }
  }
  return result;
}

std::string render_section(const std::string& header, const std::string& text) {
  std::string out = header;
  if (!text.empty() && !text.ends_with('\n')) {
    out += k_no_final_newline;
  }
  out += '\n';
  out += text;
  if (!text.empty() && !text.ends_with('\n')) {
    out += '\n';
  }
  return out;
}

struct RunResult {
  int exit_code = -1;
  int signal = 0;
  bool timed_out = false;
  std::string out;
  std::string err;
};

void set_nonblocking(int fd) {
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

RunResult run_binary(const std::string& binary, const std::vector<std::string>& argv_words,
                     const std::vector<std::string>& env_entries, const std::string& stdin_text, int timeout_seconds) {
  int in_pipe[2];
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    die(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);

  std::vector<char*> argv;
  for (const auto& word : argv_words) {
    argv.push_back(const_cast<char*>(word.c_str()));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& entry : env_entries) {
    envp.push_back(const_cast<char*>(entry.c_str()));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  }
  envp.push_back(nullptr);

  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(in_pipe[0]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (rc != 0) {
    die("cannot run " + binary + ": " + std::strerror(rc));
  }

  RunResult result;
  set_nonblocking(in_pipe[1]);
  std::size_t written = 0;
  int in_fd = in_pipe[1];
  if (stdin_text.empty()) {
    close(in_fd);
    in_fd = -1;
  }
  int out_fd = out_pipe[0];
  int err_fd = err_pipe[0];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  char buffer[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    std::vector<pollfd> fds;
    if (in_fd >= 0) {
      fds.push_back({in_fd, POLLOUT, 0});
    }
    if (out_fd >= 0) {
      fds.push_back({out_fd, POLLIN, 0});
    }
    if (err_fd >= 0) {
      fds.push_back({err_fd, POLLIN, 0});
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      kill(pid, SIGKILL);
      result.timed_out = true;
      break;
    }
    if (poll(fds.data(), fds.size(), static_cast<int>(left.count())) < 0) {
      if (errno == EINTR) {
        continue;
      }
      die(std::string("poll: ") + std::strerror(errno));
    }
    for (const auto& p : fds) {
      if (p.revents == 0) {
        continue;
      }
      if (p.fd == in_fd) {
        const auto n = write(in_fd, stdin_text.data() + written, stdin_text.size() - written);
        if (n > 0) {
          written += static_cast<std::size_t>(n);
        }
        if (n < 0 && errno != EAGAIN) {
          written = stdin_text.size();  // the child closed stdin: stop feeding it
        }
        if (written == stdin_text.size()) {
          close(in_fd);
          in_fd = -1;
        }
        continue;
      }
      const auto n = read(p.fd, buffer, sizeof buffer);
      if (n > 0) {
        (p.fd == out_fd ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EAGAIN) {
        close(p.fd);
        (p.fd == out_fd ? out_fd : err_fd) = -1;
      }
    }
  }
  for (int fd : {in_fd, out_fd, err_fd}) {
    if (fd >= 0) {
      close(fd);
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

BuildInfo query_build_info(const std::string& binary, const std::vector<std::string>& env_entries) {
  const RunResult r = run_binary(binary, {"gpuorch", "version", "-o", "json"}, env_entries, "", 30);
  BuildInfo info;
  if (r.exit_code != 0) {
    die("cannot read the build information: gpuorch version -o json exited " + std::to_string(r.exit_code) + "\n" +
        r.err);
  }
  try {
    const auto json = nlohmann::json::parse(r.out);
    info.version = json.at("gitVersion").get<std::string>();
    if (info.version.starts_with("v")) {
      info.version.erase(0, 1);
    }
    info.commit = json.at("gitCommit").get<std::string>();
    info.compiler = json.at("compiler").get<std::string>();
    info.build_type = json.at("buildType").get<std::string>();
  } catch (const std::exception& e) {
    die(std::string("cannot read the build information from gpuorch version -o json: ") + e.what());
  }
  return info;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.';
}

/// Replaces every occurrence of `value` that is not part of a longer word.
void mask_word(std::string& text, const std::string& value, const std::string& placeholder) {
  if (value.empty()) {
    return;
  }
  std::string::size_type pos = 0;
  while ((pos = text.find(value, pos)) != std::string::npos) {
    const bool left_ok = pos == 0 || !is_token_char(text[pos - 1]);
    const auto end = pos + value.size();
    const bool right_ok = end >= text.size() || !is_token_char(text[end]) ||
                          (text[end] == '.' && (end + 1 >= text.size() || !is_token_char(text[end + 1])));
    if (left_ok && right_ok) {
      text.replace(pos, value.size(), placeholder);
      pos += placeholder.size();
    } else {
      pos = end;
    }
  }
}

void mask_all(std::string& text, const std::string& value, const std::string& placeholder) {
  if (value.empty()) {
    return;
  }
  std::string::size_type pos = 0;
  while ((pos = text.find(value, pos)) != std::string::npos) {
    text.replace(pos, value.size(), placeholder);
    pos += placeholder.size();
  }
}

/// Makes output independent of the build and the machine: build information
/// (so goldens do not change with every commit or preset) and temp paths.
std::string mask(std::string text, const std::string& home, const std::string& source_dir, const BuildInfo& build) {
  mask_all(text, home, "@HOME@");
  mask_all(text, source_dir, "@SRCDIR@");
  mask_word(text, build.compiler, "@COMPILER@");
  if (build.commit != "unknown") {
    mask_word(text, build.commit, "@GIT_COMMIT@");
  } else {
    // Built outside git (a source tarball): "unknown" is also an ordinary
    // word, so mask it only where the version output puts the commit.
    mask_all(text, "(commit unknown)", "(commit @GIT_COMMIT@)");
    mask_all(text, "\"gitCommit\": \"unknown\"", "\"gitCommit\": \"@GIT_COMMIT@\"");
    mask_all(text, "gitCommit: unknown", "gitCommit: @GIT_COMMIT@");
  }
  mask_word(text, build.build_type, "@BUILD_TYPE@");
  mask_word(text, build.version, "@VERSION@");
  if (!build.version.empty()) {
    mask_word(text, "v" + build.version, "v@VERSION@");
  }
  return text;
}

void expand(std::string& text, const std::string& home, const std::string& source_dir) {
  mask_all(text, "@HOME@", home);
  mask_all(text, "@SRCDIR@", source_dir);
}

/// A unified diff of two texts by lines (longest common subsequence), with
/// three lines of context around each change.
std::string diff_lines(const std::string& expected, const std::string& actual) {
  const auto a = split_lines(expected);
  const auto b = split_lines(actual);
  const std::size_t n = a.size();
  const std::size_t m = b.size();
  std::vector<std::vector<std::size_t>> lcs(n + 1, std::vector<std::size_t>(m + 1, 0));
  for (std::size_t i = n; i-- > 0;) {
    for (std::size_t j = m; j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::vector<std::pair<char, std::string>> ops;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      ops.emplace_back(' ', a[i++]);
      ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      ops.emplace_back('-', a[i++]);
    } else {
      ops.emplace_back('+', b[j++]);
    }
  }
  std::ostringstream out;
  constexpr std::size_t k_context = 3;
  std::size_t last_printed = 0;
  bool printed_any = false;
  for (std::size_t k = 0; k < ops.size(); ++k) {
    bool near_change = false;
    const std::size_t lo = k >= k_context ? k - k_context : 0;
    for (std::size_t c = lo; c < std::min(ops.size(), k + k_context + 1) && !near_change; ++c) {
      near_change = ops[c].first != ' ';
    }
    if (!near_change) {
      continue;
    }
    if (printed_any && k > last_printed + 1) {
      out << "@@\n";
    }
    out << ops[k].first << ops[k].second << '\n';
    last_printed = k;
    printed_any = true;
  }
  const bool a_newline = expected.empty() || expected.ends_with('\n');
  const bool b_newline = actual.empty() || actual.ends_with('\n');
  if (a_newline != b_newline) {
    out << (b_newline ? "(expected no final newline, got one)\n" : "(expected a final newline, got none)\n");
  }
  return out.str();
}

std::string render_case(const CaseFile& c, const RunResult& r, const std::string& out, const std::string& err,
                        const fs::path& path) {
  std::string text;
  bool wrote_exit = false;
  for (const auto& line : c.header) {
    if (line.starts_with("exit:")) {
      text += "exit: " + std::to_string(r.exit_code) + "\n";
      wrote_exit = true;
    } else {
      text += line + "\n";
    }
  }
  if (!wrote_exit) {
    text += "exit: " + std::to_string(r.exit_code) + "\n";
  }
  for (const auto& s : c.inputs) {
    text += render_section(s.kind == "file" ? "--- file " + s.path : "--- " + s.kind, s.text);
  }
  for (const auto& [name, body] : {std::pair{"stdout", &out}, std::pair{"stderr", &err}}) {
    for (const auto& line : split_lines(*body)) {
      Section ignored;
      bool ignored_flag = false;
      if (parse_section_header(line, ignored, ignored_flag)) {
        die(path.string() + ": the " + name + " contains a line that reads as a section header: " + line);
      }
    }
    text += render_section(std::string("--- ") + name, *body);
  }
  return text;
}

std::string shell_quote(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) {
      out += ' ';
    }
    const bool plain = !w.empty() && std::all_of(w.begin(), w.end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::strchr("-_./=:,@%+", c) != nullptr;
    });
    out += plain ? w : "'" + w + "'";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string binary;
  fs::path case_path;
  bool update = false;
  if (const char* env = std::getenv("GPUORCH_UPDATE_GOLDEN"); env != nullptr && std::string_view(env) == "1") {
    update = true;
  }
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--binary" && i + 1 < argc) {
      binary = fs::absolute(argv[++i]).string();
    } else if (arg == "--case" && i + 1 < argc) {
      case_path = argv[++i];
    } else if (arg == "--update") {
      update = true;
    } else {
      die("usage: golden_runner --binary PATH --case FILE [--update]");
    }
  }
  if (binary.empty() || case_path.empty()) {
    die("usage: golden_runner --binary PATH --case FILE [--update]");
  }
  const CaseFile c = parse_case(case_path);
  const std::string source_dir = fs::current_path().string();

  std::string tmpl = (fs::temp_directory_path() / "gpuorch-golden-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    die(std::string("mkdtemp: ") + std::strerror(errno));
  }
  const std::string home = tmpl;

  std::string stdin_text;
  for (const auto& s : c.inputs) {
    if (s.kind == "stdin") {
      stdin_text = s.text;
    } else {
      const fs::path target = fs::path(home) / s.path;
      fs::create_directories(target.parent_path());
      std::ofstream(target, std::ios::binary) << s.text;
    }
  }

  // The controlled environment: nothing from the caller's shell leaks in
  // except the sanitizer settings of the build under test.
  std::vector<std::pair<std::string, std::string>> env = {
      {"HOME", home},  {"TMPDIR", home}, {"TZ", "UTC"},
      {"LC_ALL", "C"}, {"LANG", "C"},    {"PATH", "/usr/local/bin:/usr/bin:/bin"},
  };
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* value = std::getenv(name); value != nullptr) {
      env.emplace_back(name, value);
    }
  }
  for (auto [name, value] : c.env) {
    expand(value, home, source_dir);
    std::erase_if(env, [&](const auto& e) { return e.first == name; });
    env.emplace_back(name, value);
  }
  std::vector<std::string> env_entries;
  for (const auto& [name, value] : env) {
    env_entries.push_back(name + "=" + value);
  }
  std::vector<std::string> args = c.command;
  for (auto& a : args) {
    expand(a, home, source_dir);
  }

  const BuildInfo build = query_build_info(binary, env_entries);
  const RunResult r = run_binary(binary, args, env_entries, stdin_text, c.timeout_seconds);
  fs::remove_all(home);

  const std::string shown_command = shell_quote(c.command);
  if (r.timed_out || r.signal != 0) {
    std::cerr << "FAIL " << case_path.string() << "\n$ " << shown_command << '\n'
              << (r.timed_out ? "timed out after " + std::to_string(c.timeout_seconds) + "s"
                              : "killed by signal " + std::to_string(r.signal))
              << "\n--- stdout\n"
              << r.out << "--- stderr\n"
              << r.err;
    return 1;
  }
  const std::string out = mask(r.out, home, source_dir, build);
  const std::string err = mask(r.err, home, source_dir, build);

  if (update) {
    const std::string text = render_case(c, r, out, err, case_path);
    std::ofstream(case_path, std::ios::binary | std::ios::trunc) << text;
    std::cout << "updated " << case_path.string() << '\n';
    return 0;
  }

  const std::string expected_out = c.stdout_text.value_or("");
  const std::string expected_err = c.stderr_text.value_or("");
  bool ok = true;
  std::ostringstream report;
  if (!c.exit_code.has_value()) {
    report << "no \"exit:\" line (run with GPUORCH_UPDATE_GOLDEN=1 to record one)\n";
    ok = false;
  } else if (*c.exit_code != r.exit_code) {
    report << "exit code: expected " << *c.exit_code << ", got " << r.exit_code << '\n';
    ok = false;
  }
  if (expected_out != out) {
    report << "--- stdout (-expected +actual)\n" << diff_lines(expected_out, out);
    ok = false;
  }
  if (expected_err != err) {
    report << "--- stderr (-expected +actual)\n" << diff_lines(expected_err, err);
    ok = false;
  }
  if (!ok) {
    std::cerr << "FAIL " << case_path.string() << "\n$ " << shown_command << '\n'
              << report.str()
              << "(to accept the actual output: GPUORCH_UPDATE_GOLDEN=1 ctest --preset dev -L golden)\n";
    return 1;
  }
  std::cout << "ok " << case_path.string() << '\n';
  return 0;
}
