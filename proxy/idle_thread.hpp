#pragma once

#include <thread>
#include <type_traits>
#include <utility>

#include "proxy/io.hpp"

namespace tg::proxy {

/// A thread for the control thread's heavy, pure work: merging 20,000 tenants, building and
/// freeing generations. It runs at nice 19, so a worker sharing its core gets the core's time
/// first; it still runs to the end of its scheduler slice before a waking worker does, which is
/// why a change at 20,000 tenants still moves other requests' p99 by about 2 ms. (SCHED_IDLE
/// would be preempted at once, but an unprivileged thread cannot leave it and it starves on a
/// busy machine.) The control thread keeps its priority for admin calls, health checks and
/// DNS, and awaits the results. Work runs one item at a time, in the order queued.
class IdleThread {
  public:
    IdleThread();
    /// Runs what is queued (freeing the last generations), then joins.
    ~IdleThread();
    IdleThread(const IdleThread&) = delete;
    IdleThread& operator=(const IdleThread&) = delete;

    /// Runs `work` here; the awaiting coroutine resumes on its own executor with the result.
    template <class Work>
    asio::awaitable<std::invoke_result_t<Work&>> run(Work work) {
        using Result = std::invoke_result_t<Work&>;
        // Named, not a temporary in the co_await expression: GCC 12 destroys those twice.
        auto task = [work = std::move(work)]() mutable -> asio::awaitable<Result> {
            co_return work();
        };
        co_return co_await asio::co_spawn(context_, std::move(task), asio::use_awaitable);
    }

    /// Queues `work` with no one waiting for it.
    template <class Work>
    void post(Work work) {
        asio::post(context_, std::move(work));
    }

  private:
    asio::io_context context_{1};
    asio::executor_work_guard<asio::io_context::executor_type> keep_running_;
    std::thread thread_;
};

}  // namespace tg::proxy
