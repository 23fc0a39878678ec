// The coordinator's link to a worker in its own process: `promptgrid run` without mpirun, where one
// rank coordinates and works. A task runs inside send_task; its result is the next message.
#pragma once

#include <deque>

#include "orchestrator/coordinator_link.h"
#include "orchestrator/sweep_worker.h"

namespace pg::orchestrator {

class InProcessLink : public CoordinatorLink {
 public:
  explicit InProcessLink(SweepWorker& worker) : worker_(worker) {
    inbox_.push_back({0, WorkerMessage::Kind::ready, worker.about()});
  }
  int workers() const override { return 1; }
  void send_task(int, const std::string& task) override {
    for (std::string& record : worker_.run(task)) inbox_.push_back({0, WorkerMessage::Kind::result, std::move(record)});
  }
  void send_interrupt(int) override {}  // the task runs inside send_task and sees the stop signal itself
  void send_stop(int) override {}
  std::optional<WorkerMessage> receive(int) override {
    if (inbox_.empty()) return std::nullopt;
    WorkerMessage message = std::move(inbox_.front());
    inbox_.pop_front();
    return message;
  }

 private:
  SweepWorker& worker_;
  std::deque<WorkerMessage> inbox_;
};

}  // namespace pg::orchestrator
