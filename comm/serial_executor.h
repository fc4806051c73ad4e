// A thread that runs submitted jobs one at a time, in submission order.
//
// Communicators give every collective to one such thread: the collectives of
// a communicator then keep the program order of the caller (so they match
// across ranks), and a blocking exchange progresses while the caller goes on
// computing. MPI progresses a non-blocking collective only inside MPI calls;
// a thread blocked in the collective is what keeps it moving (Horovod's and
// gloo's background threads exist for the same reason).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace uda::comm {

class SerialExecutor {
 public:
  SerialExecutor();
  // Runs the jobs still queued, then stops the thread.
  ~SerialExecutor();
  SerialExecutor(const SerialExecutor&) = delete;
  SerialExecutor& operator=(const SerialExecutor&) = delete;

  // The future becomes ready when the job has run; it carries the job's exception.
  std::shared_future<void> submit(std::function<void()> job);
  // Runs `job` in the calling thread, after every job submitted before it
  // and before any submitted after it: a blocking call skips the hand-off
  // to the executor's thread (tens of microseconds on a busy machine).
  void run_in_caller(const std::function<void()>& job);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;  // the executor's thread: work, or stop
  std::condition_variable idle_;  // callers of run_in_caller: the queue drained
  std::deque<std::packaged_task<void()>> queue_;
  bool busy_ = false;  // a job is running (in either thread)
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace uda::comm
