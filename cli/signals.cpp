#include "signals.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>

namespace gpuorch::cli {
namespace {

std::atomic<CancelToken*> g_token{nullptr};
static_assert(std::atomic<CancelToken*>::is_always_lock_free);

extern "C" void on_signal(int signal_number) {
  CancelToken* token = g_token.load();
  if (token == nullptr || token->cancelled()) {
    _exit(128 + signal_number);
  }
  token->cancel(signal_number);
}

void set_handler(int signal_number, void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  sigemptyset(&action.sa_mask);
  // No SA_RESTART: a blocking poll() or sleep in a loop returns early with
  // EINTR, so the loop sees the cancellation at once.
  action.sa_flags = 0;
  sigaction(signal_number, &action, nullptr);
}

}  // namespace

void install_signal_handlers(CancelToken& token) {
  g_token.store(&token);
  set_handler(SIGINT, on_signal);
  set_handler(SIGTERM, on_signal);
}

void release_signal_token() {
  g_token.store(nullptr);
}

void remove_signal_handlers() {
  set_handler(SIGINT, SIG_DFL);
  set_handler(SIGTERM, SIG_DFL);
  g_token.store(nullptr);
}

std::optional<int> signal_exit_code(const CancelToken& token) {
  const int reason = token.reason();
  if (reason > 0) {
    return 128 + reason;
  }
  return std::nullopt;
}

}  // namespace gpuorch::cli
