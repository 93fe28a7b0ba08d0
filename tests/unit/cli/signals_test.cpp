#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <sstream>

#include <doctest/doctest.h>

#include "app.hpp"
#include "signals.hpp"

namespace gpuorch::cli {
namespace {

using namespace std::chrono_literals;

/// Runs `body` in a child process with the CLI's signal handlers installed on
/// a token. The child writes one byte to `ready` when it may be signalled.
/// Returns the child's pid and the read end of its readiness pipe.
template <typename Body>
std::pair<pid_t, int> spawn_child(Body body) {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    alarm(30);  // a broken handler must fail the test, not hang it
    static CancelToken token;
    install_signal_handlers(token);
    _exit(body(token, fds[1]));
  }
  close(fds[1]);
  return {pid, fds[0]};
}

void wait_for_byte(int fd) {
  char c = 0;
  REQUIRE(read(fd, &c, 1) == 1);
}

int exit_status_of(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE_MESSAGE(WIFEXITED(status), "the child died of signal " << WTERMSIG(status) << " instead of exiting");
  return WEXITSTATUS(status);
}

/// A long-running loop that polls the token, as library loops do.
int polling_loop(CancelToken& token, int ready) {
  const char c = 'r';
  if (write(ready, &c, 1) != 1) {
    return 98;
  }
  for (int i = 0; i < 600 && token.wait_for(100ms); ++i) {
  }
  return signal_exit_code(token).value_or(99);
}

}  // namespace

TEST_CASE("SIGTERM stops a polling loop and the exit code is 143") {
  auto [pid, ready] = spawn_child(polling_loop);
  wait_for_byte(ready);
  REQUIRE(kill(pid, SIGTERM) == 0);
  CHECK(exit_status_of(pid) == 143);
  close(ready);
}

TEST_CASE("SIGINT stops a polling loop and the exit code is 130") {
  auto [pid, ready] = spawn_child(polling_loop);
  wait_for_byte(ready);
  REQUIRE(kill(pid, SIGINT) == 0);
  CHECK(exit_status_of(pid) == 130);
  close(ready);
}

TEST_CASE("a second signal ends a command that does not poll at once") {
  auto [pid, ready] = spawn_child([](CancelToken& token, int fd) {
    const char r = 'r';
    if (write(fd, &r, 1) != 1) {
      return 98;
    }
    // Ignores the cancellation (it only acknowledges the first signal).
    bool acknowledged = false;
    for (;;) {
      usleep(1000);
      if (token.cancelled() && !acknowledged) {
        const char c = 'c';
        if (write(fd, &c, 1) != 1) {
          return 98;
        }
        acknowledged = true;
      }
    }
  });
  wait_for_byte(ready);
  REQUIRE(kill(pid, SIGINT) == 0);
  wait_for_byte(ready);  // the first one only cancelled the token
  REQUIRE(kill(pid, SIGINT) == 0);
  CHECK(exit_status_of(pid) == 130);
  close(ready);
}

TEST_CASE("after release_signal_token the first signal ends a command at once") {
  auto [pid, ready] = spawn_child([](CancelToken& /*token*/, int fd) {
    release_signal_token();  // what run_cli does for commands that never poll
    const char r = 'r';
    if (write(fd, &r, 1) != 1) {
      return 98;
    }
    for (;;) {
      usleep(1000);
    }
  });
  wait_for_byte(ready);
  REQUIRE(kill(pid, SIGTERM) == 0);
  CHECK(exit_status_of(pid) == 143);
  close(ready);
}

TEST_CASE("a signal during a command makes run_cli return 128 + signal") {
  std::istringstream in;
  std::ostringstream out;
  std::ostringstream err;
  {
    Context ctx(Io{in, out, err});
    ctx.cancel.cancel(SIGTERM);
    CHECK(run_cli(ctx, {"version"}) == 143);
  }
  {
    Context ctx(Io{in, out, err});
    ctx.cancel.cancel(SIGINT);
    CHECK(run_cli(ctx, {"version"}) == 130);
  }
  {
    // Cancelled by code, not by a signal: the command's own exit code stands.
    Context ctx(Io{in, out, err});
    ctx.cancel.cancel();
    CHECK(run_cli(ctx, {"version"}) == 0);
  }
}

TEST_CASE("signal_exit_code maps only signals") {
  CancelToken token;
  CHECK_FALSE(signal_exit_code(token).has_value());
  token.cancel();
  CHECK_FALSE(signal_exit_code(token).has_value());
  CancelToken term;
  term.cancel(SIGTERM);
  CHECK(signal_exit_code(term) == 143);
}

}  // namespace gpuorch::cli
