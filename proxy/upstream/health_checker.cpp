#include "proxy/upstream/health_checker.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <cassert>

#include "proxy/http/proxy_protocol.hpp"
#include "proxy/observe/ops_log.hpp"

namespace tg::proxy {
namespace {

/// Longer than any real status line; a peer that sends more without a CRLF is not HTTP.
constexpr std::size_t max_status_line = 1024;

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/// With send_proxy_protocol the pool expects a PROXY header first: LOCAL says the check is
/// tenantgate's own connection.
std::string check_request(std::string_view path, std::string_view host, bool send_proxy) {
    std::string request(send_proxy ? proxy_protocol::local_v2_header() : std::string_view{});
    request.append("GET ");
    request.append(path).append(" HTTP/1.1\r\nHost: ").append(host);
    request.append("\r\nUser-Agent: tenantgate-health\r\nConnection: close\r\n\r\n");
    return request;
}

/// One check without its deadline (the caller races it against one): an empty string when the
/// endpoint passed, else why it failed. Arguments are copies: a reload may retune the probe
/// while its check is under way.
asio::awaitable<std::string> check_once(tcp::endpoint address, std::string request) {
    tcp::socket socket(co_await asio::this_coro::executor);
    auto [connect_error] = co_await socket.async_connect(address, use_nothrow);
    if (connect_error) co_return "connect: " + connect_error.message();
    auto [write_error, written] =
        co_await asio::async_write(socket, asio::buffer(request), use_nothrow);
    if (write_error) co_return "send: " + write_error.message();
    std::string head;
    auto [read_error, line_end] = co_await asio::async_read_until(
        socket, asio::dynamic_buffer(head, max_status_line), "\r\n", use_nothrow);
    if (read_error == asio::error::not_found) co_return "status line too long";
    if (read_error) co_return "no status line: " + read_error.message();
    const auto status = parse_status_line(std::string_view(head).substr(0, line_end - 2));
    if (!status) co_return "malformed status line";
    if (*status >= 200 && *status < 400) co_return std::string();
    co_return "status " + std::to_string(*status);
}

}  // namespace

std::optional<unsigned> parse_status_line(std::string_view line) {
    // HTTP-version SP 3DIGIT SP [reason]; the SP before an empty reason is often left out.
    constexpr std::string_view prefix = "HTTP/1.";
    if (line.size() < 12 || !line.starts_with(prefix) || !is_digit(line[7]) || line[8] != ' ')
        return std::nullopt;
    if (!is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11])) return std::nullopt;
    if (line.size() > 12 && line[12] != ' ') return std::nullopt;
    const unsigned status =
        static_cast<unsigned>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
    if (status < 100) return std::nullopt;
    return status;
}

/// One checked endpoint: its settings, its state and the timers of its check loop.
struct HealthChecker::Probe {
    explicit Probe(asio::io_context& control) : timer(control), deadline(control) {}

    /// Ends the check loop: the timers' waits complete and the loop returns without writing.
    void halt() {
        stopped = true;
        flag = nullptr;
        timer.cancel();
        deadline.cancel();
    }

    std::string pool;
    tcp::endpoint address;
    std::string label;
    config::HealthCheck settings;
    std::string request;
    ProbeState state;
    std::atomic<bool>* flag = nullptr;  ///< in the board of the tracked generation
    asio::steady_timer timer;           ///< until the next check
    asio::steady_timer deadline;        ///< of the check under way
    bool stopped = false;
};

void HealthChecker::track(std::shared_ptr<const Generation> generation, HealthBoard& board) {
    if (stopped_) return;
    // The new generation is held before the old one is let go: halted probes write nothing,
    // and kept ones move to the new board below.
    std::swap(generation_, generation);
    std::map<Key, std::shared_ptr<Probe>> next;
    for (const auto& [name, pool] : generation_->config().pools) {
        if (!pool.health_check) continue;
        const ResolvedPool* resolved = generation_->pool(name);
        assert(resolved != nullptr);
        for (const auto* list : {&resolved->web, &resolved->longpolling}) {
            for (const auto& endpoint : *list) {
                Key key{name, endpoint.address};
                if (next.contains(key)) continue;  // in both lists: one endpoint, one check
                auto& probe = next[key];
                const auto kept = probes_.find(key);
                const bool fresh = kept == probes_.end();
                if (fresh) {
                    probe = std::make_shared<Probe>(control_);
                    probe->pool = name;
                    probe->address = endpoint.address;
                } else {
                    probe = std::move(kept->second);
                    probes_.erase(kept);
                }
                probe->label = endpoint.label;
                probe->settings = *pool.health_check;
                probe->request =
                    check_request(probe->settings.path, probe->label, pool.send_proxy_protocol);
                probe->flag = board.flag(name, endpoint.address);
                assert(probe->flag != nullptr);
                if (fresh) {
                    // The board already holds what is known: carried over, or up when new.
                    probe->state = ProbeState(probe->flag->load(std::memory_order_relaxed));
                    asio::co_spawn(control_, run(probe), asio::detached);
                } else {
                    probe->flag->store(probe->state.up(), std::memory_order_relaxed);
                }
            }
        }
    }
    for (auto& [_, gone] : probes_) gone->halt();
    probes_ = std::move(next);
    std::erase_if(outage_logged_, [&](const auto& entry) {
        const auto* pool = generation_->pool(entry.first);
        return pool == nullptr || !pool->config->health_check;
    });
    for (const auto& [name, pool] : generation_->config().pools)
        if (pool.health_check) report_outage(name);
}

void HealthChecker::stop() {
    stopped_ = true;
    for (auto& [_, probe] : probes_) probe->halt();
    probes_.clear();
    outage_logged_.clear();
    generation_.reset();
}

asio::awaitable<void> HealthChecker::run(std::shared_ptr<Probe> probe) {
    using namespace asio::experimental::awaitable_operators;
    while (!probe->stopped) {
        const auto started = Clock::now();
        probe->deadline.expires_at(started + probe->settings.timeout);
        auto outcome = co_await (check_once(probe->address, probe->request) ||
                                 probe->deadline.async_wait(use_nothrow));
        // Halted meanwhile: the endpoint left, or the checker stopped (and may be gone).
        if (probe->stopped) co_return;
        record(*probe, outcome.index() == 0 ? std::get<0>(outcome) : std::string("timed out"));
        probe->timer.expires_at(started + probe->settings.interval);
        co_await probe->timer.async_wait(use_nothrow);
    }
}

void HealthChecker::record(Probe& probe, std::string_view failure) {
    const auto change =
        probe.state.record(failure.empty(), probe.settings.fall, probe.settings.rise);
    probe.flag->store(probe.state.up(), std::memory_order_relaxed);
    if (change == ProbeState::Change::none) return;
    if (change == ProbeState::Change::went_down)
        ops_log::warn("upstream endpoint down",
                      {{"pool", probe.pool}, {"endpoint", probe.label}, {"reason", failure}});
    else
        ops_log::info("upstream endpoint up", {{"pool", probe.pool}, {"endpoint", probe.label}});
    report_outage(probe.pool);
}

void HealthChecker::report_outage(const std::string& pool) {
    const ResolvedPool* resolved = generation_->pool(pool);
    assert(resolved != nullptr);
    auto& logged = outage_logged_[pool];
    const std::array lists{&resolved->web, &resolved->longpolling};
    for (std::size_t l = 0; l < lists.size(); ++l) {
        const auto& list = *lists[l];
        const bool all_down =
            !list.empty() && std::all_of(list.begin(), list.end(), [&](const auto& endpoint) {
                const auto probe = probes_.find(Key{pool, endpoint.address});
                return probe != probes_.end() && !probe->second->state.up();
            });
        if (all_down && !logged[l])
            ops_log::error(
                "every endpoint of a pool is down: traffic is sent to all of them anyway",
                {{"pool", pool}, {"endpoints", l == 0 ? "web" : "longpolling"}});
        logged[l] = all_down;
    }
}

}  // namespace tg::proxy
