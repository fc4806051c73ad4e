#include "comm/serial_executor.h"

namespace uda::comm {

SerialExecutor::SerialExecutor() : thread_([this] { run(); }) {}

SerialExecutor::~SerialExecutor() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

std::shared_future<void> SerialExecutor::submit(std::function<void()> job) {
  std::packaged_task<void()> task(std::move(job));
  auto done = task.get_future().share();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
  return done;
}

void SerialExecutor::run_in_caller(const std::function<void()>& job) {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    idle_.wait(lock, [this] { return queue_.empty() && !busy_; });
    busy_ = true;
  }
  struct Release {
    SerialExecutor& e;
    ~Release() {
      {
        std::lock_guard<std::mutex> lock(e.mutex_);
        e.busy_ = false;
      }
      e.wake_.notify_one();
      e.idle_.notify_all();
    }
  } release{*this};
  job();
}

void SerialExecutor::run() {
  for (;;) {
    std::packaged_task<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return (stopping_ && !busy_) || (!queue_.empty() && !busy_); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
    }
    task();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      busy_ = false;
    }
    idle_.notify_all();
  }
}

}  // namespace uda::comm
