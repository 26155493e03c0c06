#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "proxy/io.hpp"

namespace tg::proxy {

/// What SPEC §7 logs for each request.
struct AccessRecord {
    std::chrono::system_clock::time_point time;
    std::string_view request_id;
    std::string_view client_ip;
    std::string_view tenant;
    std::string_view route;
    std::string_view method;
    std::string_view path;
    unsigned status = 0;
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    double duration_ms = 0;
    std::string_view upstream;
    std::string_view color;
};

/// Writes access log lines on its own thread, so a slow disk or a blocked stdout never stalls a
/// worker. Workers hand over whole batches; if the writer falls too far behind, batches are
/// dropped and counted rather than blocking the data path.
class AccessLogWriter {
  public:
    /// `destination`: "stdout", "off" or a file path (reopened by reopen(), for logrotate).
    explicit AccessLogWriter(std::string destination);
    ~AccessLogWriter();
    AccessLogWriter(const AccessLogWriter&) = delete;
    AccessLogWriter& operator=(const AccessLogWriter&) = delete;

    bool enabled() const { return enabled_; }
    /// Queues a batch of complete lines; called by workers.
    void submit(std::string batch);
    /// Reopens the file (SIGUSR1).
    void reopen();
    /// Writes everything queued, then returns.
    void flush();
    std::uint64_t dropped_batches() const;

  private:
    void run();
    void open_destination();

    std::string destination_;
    bool enabled_;
    int fd_ = -1;
    bool reopen_requested_ = false;
    bool stopping_ = false;
    std::size_t queued_bytes_ = 0;
    std::uint64_t dropped_ = 0;
    std::size_t in_progress_ = 0;
    std::deque<std::string> queue_;
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable drained_;
    std::thread thread_;
};

/// A worker's access log: lines are formatted into a local buffer and handed to the writer on
/// the worker's periodic tick or when the buffer is large. No lock per request.
class AccessLog {
  public:
    explicit AccessLog(AccessLogWriter& writer) : writer_(writer) {}
    bool enabled() const { return writer_.enabled(); }
    void record(const AccessRecord& record);
    void flush();

  private:
    static constexpr std::size_t flush_bytes_ = 64 * 1024;
    AccessLogWriter& writer_;
    std::string pending_;
};

}  // namespace tg::proxy
