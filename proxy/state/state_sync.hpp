#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxy/io.hpp"
#include "proxy/state/redis_client.hpp"
#include "proxy/state/runtime_state.hpp"

namespace tg::proxy {

/// Shares the runtime state (maintenance, release colours, runtime tenants) between replicas
/// through Redis (SPEC §5). The key `<prefix>runtime` is a hash of the state's entries (one
/// field per tenant's maintenance, release and definition, see runtime_state_fields) with its
/// version and origin; a change writes only the entries it set and is published, as those
/// entries and the version and origin it was made from, on the channel of the same name. So a
/// change to one of 20,000 tenants costs every replica, and Redis, that tenant's entry, not the
/// whole state. A write is a compare-and-set on the stored version and origin in one script:
/// the replica whose write Redis refused reads the stored state whole, merges it into its own
/// and writes again; a replica that hears a change made from a state it does not have (a
/// message lost, or a replica that replaced the state) reads it whole too. States are merged
/// entry by entry (merge_runtime_states: the newest setting of each), so while Redis is away
/// every replica's local state keeps working, and what each changed meanwhile is kept when it
/// is back. Everything runs on the control thread's io_context.
class StateSync {
  public:
    struct Callbacks {
        /// This replica's state as it is now.
        std::function<RuntimeState()> current;
        /// The state merged with Redis', when it differs from this replica's: apply and
        /// persist it.
        std::function<void(RuntimeState)> adopt;
    };

    StateSync(asio::io_context& control, RedisAddress address, std::string key_prefix,
              std::string replica_id, Callbacks callbacks);

    /// One bounded attempt at start-up: connect, subscribe, read the stored state, merge it
    /// into the local one and send what Redis lacks. Never throws nor takes longer than
    /// `timeout`; when Redis is down it logs once and leaves the retrying to `run`.
    asio::awaitable<void> start(Clock::duration timeout);
    /// Keeps both connections up (back-off 100 ms to 5 s), reconciles after each reconnect and
    /// every `check_interval`, and sends what `push` marked; runs until `stop`. Spawned once
    /// `start` has returned (both share the connections).
    asio::awaitable<void> run();
    /// The local state changed (already applied and persisted): sent at once while Redis is up,
    /// else once it is back. Returns without waiting.
    void push();
    void stop();
    /// True while both connections to Redis are up (the redis_up gauge).
    [[nodiscard]] bool up() const { return up_; }
    /// Where Redis is, password masked.
    const RedisAddress& address() const { return command_.address(); }

    /// How often an idle replica reads the key back: a health check, and a bound on how long a
    /// message lost on a silently broken subscriber connection can go unnoticed.
    static constexpr Clock::duration check_interval = std::chrono::seconds(1);

  private:
    using Stamp = std::pair<std::uint64_t, std::string>;  ///< a stored state's version, origin

    asio::awaitable<bool> link(Clock::time_point deadline, std::string& error);
    /// `whole`: read the whole state even when its version and origin are known.
    asio::awaitable<bool> reconcile(Clock::time_point deadline, bool whole);
    /// Reads the stored state whole and takes it.
    asio::awaitable<bool> read_whole(Clock::time_point deadline);
    asio::awaitable<bool> send(Clock::time_point deadline);
    void on_message(std::string_view message);
    /// Merges the whole stored state into the local one entry by entry: adopts the result when
    /// it differs from the local state, and marks it for sending when Redis lacks some of it
    /// (changes made here while Redis was away).
    void take_whole(const RuntimeState& stored);
    /// Merges a change heard on the channel, made from the state this replica knows.
    void take_change(const RuntimeState& change);
    /// Adopts `merged` when it differs from `local` in entries or version.
    void adopt_if_new(const RuntimeState& local, RuntimeState merged);
    void came_up();
    void went_down(std::string_view reason);
    [[nodiscard]] bool linked() const { return command_.connected() && subscriber_.connected(); }

    RedisClient command_;
    RedisClient subscriber_;
    std::string key_;  ///< the state key, and the channel
    std::string replica_id_;
    Callbacks callbacks_;
    asio::steady_timer timer_;
    bool up_ = false;
    bool reported_down_ = false;
    bool stopped_ = false;
    bool pending_ = false;  ///< a local change Redis has not accepted yet
    bool sending_ = false;  ///< a write is on its way
    bool stale_ = false;    ///< a change was heard from a state this replica does not know
    bool reading_ = false;  ///< a whole read is on its way
    std::vector<std::string> heard_while_reading_;  ///< messages, taken after that read
    /// The version and origin of the stored state this replica last read, heard or wrote:
    /// while Redis holds that one, this replica has all of it. {0, ""}: Redis holds no state
    /// (or none this replica can read), and the next write replaces whatever is there.
    std::optional<Stamp> known_;
    /// The stored version and origin as the last whole read found them, as text: what a
    /// replacing write expects to replace (a state this replica could not read included).
    std::pair<std::string, std::string> stored_stamp_{"0", ""};
    /// A state all of whose entries Redis holds (as they are, or newer): a write sends the
    /// entries the local state changed from it.
    RuntimeState synced_;
    bool warned_bad_key_ = false;  ///< the stored value is not a state (logged once)
};

}  // namespace tg::proxy
