#pragma once

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "config/snapshot.hpp"
#include "proxy/generation.hpp"
#include "proxy/io.hpp"
#include "proxy/upstream/health_board.hpp"

namespace tg::proxy {

/// The up/down state of one actively checked endpoint (SPEC §2 `fall`, `rise`): `fall` failed
/// checks in a row take it down, `rise` passed checks in a row bring it back. Pure.
class ProbeState {
  public:
    /// What one check result did to the state.
    enum class Change { none, went_down, went_up };

    explicit ProbeState(bool up = true) : up_(up) {}

    /// Counts one check result.
    Change record(bool passed, int fall, int rise) {
        if (passed == up_) {
            streak_ = 0;  // a result that agrees with the state breaks the contrary streak
            return Change::none;
        }
        if (++streak_ < (up_ ? fall : rise)) return Change::none;
        up_ = !up_;
        streak_ = 0;
        return up_ ? Change::went_up : Change::went_down;
    }
    bool up() const { return up_; }

  private:
    bool up_;
    int streak_ = 0;  ///< consecutive results contrary to `up_`
};

/// The status code of an HTTP/1.x status line ("HTTP/1.1 200 OK", no CRLF); nullopt if the
/// line is not one (RFC 9112 §4).
std::optional<unsigned> parse_status_line(std::string_view line);

/// Active health checks (SPEC §2 `health_check`) on the control thread's io_context: for each
/// endpoint of each pool that has a health_check, one check per `interval`, each one new
/// connection with `GET <path>` and a single deadline of `timeout` over connect, send and the
/// status line; 2xx and 3xx pass. Results go to the current Generation's HealthBoard, which
/// workers read. Never blocks the control thread and never touches a worker.
class HealthChecker {
  public:
    explicit HealthChecker(asio::io_context& control) : control_(control) {}
    ~HealthChecker() { stop(); }
    HealthChecker(const HealthChecker&) = delete;
    HealthChecker& operator=(const HealthChecker&) = delete;

    /// Follows `generation` (start, reload, DNS change) and `board`, its HealthBoard (kept
    /// alive by it): starts checking new endpoints, applies changed settings to the others,
    /// stops checking endpoints that left, and writes every known state into `board`, so a
    /// check that ended while the generation was being published is not lost. Control thread.
    void track(std::shared_ptr<const Generation> generation, HealthBoard& board);

    /// Stops every check (drain): no new connection is made, checks under way are cancelled.
    /// Control thread.
    void stop();

  private:
    struct Probe;
    using Key = std::pair<std::string, tcp::endpoint>;  ///< (pool, address)

    asio::awaitable<void> run(std::shared_ptr<Probe> probe);
    void record(Probe& probe, std::string_view failure);
    /// Logs once when every endpoint of one of the pool's lists is down, since traffic then
    /// goes to all of them anyway (routing falls back rather than refusing every request).
    void report_outage(const std::string& pool);

    asio::io_context& control_;
    std::shared_ptr<const Generation> generation_;  ///< keeps the board being written alive
    std::map<Key, std::shared_ptr<Probe>> probes_;
    std::map<std::string, std::array<bool, 2>, std::less<>> outage_logged_;  ///< web, longpolling
    bool stopped_ = false;
};

}  // namespace tg::proxy
