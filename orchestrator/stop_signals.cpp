#include "orchestrator/stop_signals.h"

#include <signal.h>

#include <atomic>

namespace pg::orchestrator {
namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGUSR2};
constexpr int kCount = sizeof kSignals / sizeof kSignals[0];

std::atomic<int> g_stop_signal{0};
struct sigaction g_previous[kCount];

void on_stop_signal(int signal) {
  int none = 0;
  if (g_stop_signal.compare_exchange_strong(none, signal)) return;
  // Slurm may send TERM to a rank that already has the job script's USR2, and TERM again; only a
  // second Ctrl-C, a person's, means stop now (the default way).
  if (signal != SIGINT) return;
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  ::sigaction(signal, &action, nullptr);
  ::raise(signal);
}

}  // namespace

StopSignals::StopSignals() {
  g_stop_signal = 0;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a signal must not fail a write or a wait under way
  for (int i = 0; i < kCount; ++i) ::sigaction(kSignals[i], &action, &g_previous[i]);
}

StopSignals::~StopSignals() {
  for (int i = 0; i < kCount; ++i) ::sigaction(kSignals[i], &g_previous[i], nullptr);
}

int stop_signal() { return g_stop_signal.load(); }

}  // namespace pg::orchestrator
