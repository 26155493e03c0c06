#include "proxy/idle_thread.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "proxy/observe/ops_log.hpp"

namespace tg::proxy {

IdleThread::IdleThread() : keep_running_(asio::make_work_guard(context_)) {
    thread_ = std::thread([this] {
        if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 19) != 0)
            ops_log::warn("rebuilds run at normal priority", {{"reason", std::strerror(errno)}});
        context_.run();
    });
}

IdleThread::~IdleThread() {
    keep_running_.reset();
    thread_.join();
}

}  // namespace tg::proxy
