#include "proxy/state/state_sync.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include "proxy/observe/ops_log.hpp"
#include "proxy/state/runtime_state_json.hpp"

namespace tg::proxy {
namespace {

/// KEYS[1]: the state key, also the channel; ARGV[1]: the new state's version, ARGV[2]: its
/// JSON. Stores and publishes the new state unless the stored one has the same or a higher
/// version: then returns the stored JSON, for the caller to adopt. A stored value that is not a
/// state is overwritten. (Versions are Unix milliseconds: exact in Lua's doubles.)
constexpr std::string_view write_script = R"lua(
local stored = redis.call('GET', KEYS[1])
if stored then
  local ok, state = pcall(cjson.decode, stored)
  if ok and type(state) == 'table' and type(state.version) == 'number'
     and state.version >= tonumber(ARGV[1]) then
    return stored
  end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('PUBLISH', KEYS[1], ARGV[2])
return 1
)lua";

/// The version and origin at the head of a stored state's JSON (runtime_state_text writes them
/// first), or nothing when the text starts otherwise or is cut before the origin ends.
std::optional<std::pair<std::uint64_t, std::string>> leading_stamp(std::string_view head) {
    constexpr std::string_view version_key = R"({"version":)";
    constexpr std::string_view origin_key = R"(,"origin":")";
    if (!head.starts_with(version_key)) return std::nullopt;
    head.remove_prefix(version_key.size());
    std::uint64_t version = 0;
    const auto [end, ec] = std::from_chars(head.data(), head.data() + head.size(), version);
    if (ec != std::errc()) return std::nullopt;
    head.remove_prefix(static_cast<std::size_t>(end - head.data()));
    if (!head.starts_with(origin_key)) return std::nullopt;
    head.remove_prefix(origin_key.size());
    // Replica ids need no escaping; one that does makes the head unreadable, so read whole.
    const auto quote = head.find_first_of("\"\\");
    if (quote == std::string_view::npos || head[quote] != '"') return std::nullopt;
    return std::pair{version, std::string(head.substr(0, quote))};
}

Clock::duration left(Clock::time_point deadline) {
    return std::max<Clock::duration>(deadline - Clock::now(), Clock::duration::zero());
}

}  // namespace

StateSync::StateSync(asio::io_context& control, RedisAddress address, std::string key_prefix,
                     std::string replica_id, Callbacks callbacks)
    : command_(control, address),
      subscriber_(control, std::move(address)),
      key_(std::move(key_prefix) + "runtime"),
      replica_id_(std::move(replica_id)),
      callbacks_(std::move(callbacks)),
      timer_(control) {}

asio::awaitable<void> StateSync::start(Clock::duration timeout) {
    std::string error;
    if (co_await link(Clock::now() + timeout, error))
        came_up();
    else if (!stopped_)
        went_down(error);
}

asio::awaitable<void> StateSync::run() {
    RedisBackoff backoff;
    while (!stopped_) {
        if (!linked()) {
            std::string error;
            if (!co_await link(Clock::now() + RedisClient::call_timeout, error)) {
                if (stopped_) co_return;
                went_down(error);
                timer_.expires_after(backoff.next());
                co_await timer_.async_wait(use_nothrow);
                continue;
            }
            backoff.reset();
            came_up();
        }
        if (pending_) {
            if (!co_await send(Clock::now() + RedisClient::call_timeout) && !stopped_)
                went_down("no answer");
            continue;
        }
        timer_.expires_after(check_interval);  // `push` cuts this short
        co_await timer_.async_wait(use_nothrow);
        if (stopped_ || pending_ || !linked()) continue;
        if (!co_await reconcile(Clock::now() + RedisClient::call_timeout, false) && !stopped_)
            went_down("no answer");
    }
}

void StateSync::push() {
    pending_ = true;
    if (up_) timer_.cancel();  // while down, the next reconnect sends it
}

void StateSync::stop() {
    stopped_ = true;
    up_ = false;
    timer_.cancel();
    subscriber_.disconnect();
    command_.disconnect();
}

/// Subscribes before reading the key, so that a change published in between is not missed.
asio::awaitable<bool> StateSync::link(Clock::time_point deadline, std::string& error) {
    if (!command_.connected() && !co_await command_.connect(left(deadline), error)) co_return false;
    if (!subscriber_.connected()) {
        if (!co_await subscriber_.connect(left(deadline), error)) co_return false;
        if (!co_await subscriber_.subscribe(
                key_, [this](std::string_view message) { on_message(message); }, left(deadline))) {
            error = "SUBSCRIBE got no answer";
            co_return false;
        }
    }
    // After a (re)connection the state is read whole: a message may have been missed.
    if (!co_await reconcile(deadline, true)) {
        error = "no answer to reading or writing the state";
        co_return false;
    }
    co_return true;
}

/// Reads the stored state and merges it with the local one; sends what Redis lacks.
asio::awaitable<bool> StateSync::reconcile(Clock::time_point deadline, bool whole) {
    // The check every second reads the head of the stored JSON first: the whole state
    // (megabytes at 20,000 runtime tenants) is read and merged only when its version and
    // origin are not those this replica last read, heard or wrote.
    if (!whole && !pending_ && known_) {
        std::vector<std::string> head = {"GETRANGE", key_, "0", "255"};
        const auto reply = co_await command_.command(std::move(head), left(deadline));
        if (!reply || reply->type != RedisValue::Type::string) co_return false;
        if (leading_stamp(reply->text) == known_) co_return true;
    }
    std::vector<std::string> get = {"GET", key_};
    const auto reply = co_await command_.command(std::move(get), left(deadline));
    if (!reply || (reply->type != RedisValue::Type::nil && reply->type != RedisValue::Type::string))
        co_return false;
    std::optional<RuntimeState> stored;
    if (reply->type == RedisValue::Type::string) {
        std::string error;
        stored = runtime_state_from_json(reply->text, error);
        if (!stored && !warned_bad_key_)
            ops_log::warn("redis holds no runtime state: overwritten by the next change",
                          {{"key", key_}, {"reason", error}});
        warned_bad_key_ = !stored;
    }
    if (stored) {
        known_ = {stored->version, stored->origin};
        take(std::move(*stored));
    } else if (callbacks_.current().version != 0)
        pending_ = true;  // nothing (readable) there yet: what changed here goes first
    if (!pending_) co_return true;
    co_return co_await send(deadline);
}

/// Writes the local state unless Redis holds a newer one, which is then adopted.
asio::awaitable<bool> StateSync::send(Clock::time_point deadline) {
    pending_ = false;
    const auto state = callbacks_.current();
    std::vector<std::string> eval = {
        "EVAL", std::string(write_script),     "1",
        key_,   std::to_string(state.version), runtime_state_text(state)};
    const auto reply = co_await command_.command(std::move(eval), left(deadline));
    if (reply && reply->type == RedisValue::Type::integer) {
        known_ = {state.version, state.origin};
        co_return true;
    }
    if (reply && reply->type == RedisValue::Type::string) {
        // Another replica wrote first: merged here, and sent again on the next round if this
        // replica still has something Redis lacks.
        std::string error;
        if (auto stored = runtime_state_from_json(reply->text, error)) {
            known_ = {stored->version, stored->origin};
            take(std::move(*stored));
        } else
            ops_log::warn("redis holds a newer runtime state this replica cannot read",
                          {{"key", key_}, {"reason", error}});
        co_return true;
    }
    pending_ = true;
    if (reply && reply->type == RedisValue::Type::error)
        ops_log::error("redis refused the runtime state script", {{"reason", reply->text}});
    co_return false;
}

void StateSync::on_message(std::string_view message) {
    std::string error;
    auto state = runtime_state_from_json(message, error);
    if (!state) {
        ops_log::warn("ignored a malformed runtime state message",
                      {{"channel", key_}, {"reason", error}});
        return;
    }
    known_ = {state->version, state->origin};
    take(std::move(*state));
}

void StateSync::take(const RuntimeState& shared) {
    const RuntimeState local = callbacks_.current();
    RuntimeState merged = merge_runtime_states(local, shared);
    const bool news_here = !merged.same_entries(local);
    const bool news_there = !merged.same_entries(shared);
    if (!news_here && !news_there) return;  // this replica's own change, or one it has
    if (news_there) {
        pending_ = true;
        if (merged.version <= shared.version) {
            // A state neither side had: a version above both, so that Redis accepts it.
            merged.version = std::max(local.version, shared.version) + 1;
            merged.origin = replica_id_;
        }
    }
    if (news_here || merged.version != local.version) callbacks_.adopt(std::move(merged));
}

void StateSync::came_up() {
    if (up_) return;
    up_ = true;
    reported_down_ = false;
    ops_log::info("redis connected: runtime state shared",
                  {{"redis", address().display}, {"replica", replica_id_}});
}

void StateSync::went_down(std::string_view reason) {
    subscriber_.disconnect();
    command_.disconnect();
    up_ = false;
    if (reported_down_) return;
    reported_down_ = true;
    ops_log::warn("redis unreachable: runtime state stays local until it is back",
                  {{"redis", address().display}, {"replica", replica_id_}, {"reason", reason}});
}

}  // namespace tg::proxy
