#include "proxy/observe/access_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "proxy/observe/json_text.hpp"
#include "proxy/observe/ops_log.hpp"

namespace tg::proxy {
namespace {

constexpr std::size_t max_queued_bytes = 64 * 1024 * 1024;

void append_number(std::string& out, std::uint64_t value) {
    char text[24];
    const auto end = std::to_chars(text, text + sizeof text, value).ptr;
    out.append(text, end);
}

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // a broken log destination must not take the proxy down
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

AccessLogWriter::AccessLogWriter(std::string destination)
    : destination_(std::move(destination)), enabled_(destination_ != "off") {
    if (!enabled_) return;
    open_destination();
    thread_ = std::thread([this] { run(); });
}

AccessLogWriter::~AccessLogWriter() {
    if (!enabled_) return;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
    if (fd_ > STDERR_FILENO) ::close(fd_);
}

void AccessLogWriter::open_destination() {
    if (destination_ == "stdout") {
        fd_ = STDOUT_FILENO;
        return;
    }
    const int fd = ::open(destination_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        ops_log::error("cannot open access log",
                       {{"path", destination_}, {"reason", std::strerror(errno)}});
        return;  // keep the previous descriptor, if any
    }
    if (fd_ > STDERR_FILENO) ::close(fd_);
    fd_ = fd;
}

void AccessLogWriter::submit(std::string batch) {
    {
        std::lock_guard lock(mutex_);
        if (queued_bytes_ + batch.size() > max_queued_bytes) {
            ++dropped_;
            return;
        }
        queued_bytes_ += batch.size();
        queue_.push_back(std::move(batch));
    }
    wake_.notify_one();
}

void AccessLogWriter::reopen() {
    {
        std::lock_guard lock(mutex_);
        reopen_requested_ = true;
    }
    wake_.notify_one();
}

void AccessLogWriter::flush() {
    if (!enabled_) return;
    std::unique_lock lock(mutex_);
    drained_.wait(lock, [&] { return queue_.empty() && in_progress_ == 0; });
}

std::uint64_t AccessLogWriter::dropped_batches() const {
    std::lock_guard lock(mutex_);
    return dropped_;
}

void AccessLogWriter::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        wake_.wait(lock, [&] { return stopping_ || reopen_requested_ || !queue_.empty(); });
        if (reopen_requested_) {
            reopen_requested_ = false;
            open_destination();
        }
        while (!queue_.empty()) {
            std::string batch = std::move(queue_.front());
            queue_.pop_front();
            queued_bytes_ -= batch.size();
            ++in_progress_;
            lock.unlock();
            if (fd_ >= 0) write_all(fd_, batch);
            lock.lock();
            --in_progress_;
        }
        drained_.notify_all();
        if (stopping_) return;
    }
}

void AccessLog::record(const AccessRecord& r) {
    if (!writer_.enabled()) return;
    std::string& out = pending_;
    out.append("{\"time\":\"");
    append_rfc3339(out, r.time);
    out.append("\",\"request_id\":");
    append_json_string(out, r.request_id);
    out.append(",\"client_ip\":");
    append_json_string(out, r.client_ip);
    out.append(",\"tenant\":");
    append_json_string(out, r.tenant);
    out.append(",\"route\":");
    append_json_string(out, r.route);
    out.append(",\"method\":");
    append_json_string(out, r.method);
    out.append(",\"path\":");
    append_json_string(out, r.path);
    out.append(",\"status\":");
    append_number(out, r.status);
    out.append(",\"bytes_in\":");
    append_number(out, r.bytes_in);
    out.append(",\"bytes_out\":");
    append_number(out, r.bytes_out);
    out.append(",\"duration_ms\":");
    char text[32];
    const auto end =
        std::to_chars(text, text + sizeof text, r.duration_ms, std::chars_format::fixed, 3).ptr;
    out.append(text, end);
    out.append(",\"upstream\":");
    append_json_string(out, r.upstream);
    out.append(",\"color\":");
    append_json_string(out, r.color);
    out.append("}\n");
    if (out.size() >= flush_bytes_) flush();
}

void AccessLog::flush() {
    if (pending_.empty()) return;
    writer_.submit(std::move(pending_));
    pending_ = std::string();
    pending_.reserve(flush_bytes_ + 1024);
}

}  // namespace tg::proxy
