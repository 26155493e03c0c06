#include "proxy/state/state_sync.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "proxy/observe/ops_log.hpp"
#include "proxy/state/runtime_state_json.hpp"

namespace tg::proxy {
namespace {

/// KEYS[1]: the state hash, also the channel. ARGV[1], ARGV[2]: the version and origin of the
/// stored state the change was made from, as stored; ARGV[3], ARGV[4]: the new version and
/// origin; ARGV[5]: "1" to replace the stored state (none, or one the sender could not read)
/// rather than add to it; ARGV[6]: the message to publish; then the changed entries, field and
/// value. Returns 1 when written and published, 0 when refused: the stored state is not the one
/// the change was made from, or (when adding) is as new. (Versions are Unix milliseconds: exact
/// in Lua's doubles.) A value that is not a hash (an older format) counts as no state.
constexpr std::string_view write_script = R"lua(
local version, origin = '0', ''
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
  local stamp = redis.call('HMGET', KEYS[1], 'version', 'origin')
  version, origin = stamp[1] or '0', stamp[2] or ''
end
if version ~= ARGV[1] or origin ~= ARGV[2] then return 0 end
if ARGV[5] == '1' then
  redis.call('DEL', KEYS[1])
elseif tonumber(ARGV[3]) <= (tonumber(version) or 0) then
  return 0
end
for i = 7, #ARGV, 1000 do
  redis.call('HSET', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('HSET', KEYS[1], 'version', ARGV[3], 'origin', ARGV[4])
redis.call('PUBLISH', KEYS[1], ARGV[6])
return 1
)lua";

/// A stored version and origin as a Stamp; nothing unless the version is written as
/// std::to_string writes it (the script compares the text).
std::optional<std::pair<std::uint64_t, std::string>> stamp_of(const std::string& version,
                                                              std::string origin) {
    std::uint64_t number = 0;
    const char* end = version.data() + version.size();
    const auto [stop, ec] = std::from_chars(version.data(), end, number);
    if (ec != std::errc() || stop != end || std::to_string(number) != version) return std::nullopt;
    return std::pair{number, std::move(origin)};
}

/// Whether `state` holds another value than `change` for some entry the change carries.
bool holds_other_entries(const RuntimeState& state, const RuntimeState& change) {
    const auto differs = [](const auto& entries, const auto& changed) {
        return std::any_of(changed.begin(), changed.end(), [&](const auto& item) {
            const auto found = entries.find(item.first);
            return found == entries.end() || !(found->second == item.second);
        });
    };
    return state.global_maintenance != change.global_maintenance ||
           differs(state.tenant_maintenance, change.tenant_maintenance) ||
           differs(state.releases, change.releases) || differs(state.tenants, change.tenants);
}

/// A message on the channel: the version and origin the change was made from, on a line of its
/// own, then the change (runtime_state_text of changed_entries).
std::string change_message(const std::pair<std::uint64_t, std::string>& base,
                           const RuntimeState& change) {
    std::string message = boost::json::serialize(
        boost::json::object{{"version", base.first}, {"origin", base.second}});
    message += '\n';
    message += runtime_state_text(change);
    return message;
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
        if (!stale_) {
            timer_.expires_after(check_interval);  // `push` and a stale message cut this short
            co_await timer_.async_wait(use_nothrow);
            if (stopped_ || pending_ || !linked()) continue;
        }
        if (!co_await reconcile(Clock::now() + RedisClient::call_timeout, stale_) && !stopped_)
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
    // The check every second reads the stored version and origin: the whole state (megabytes
    // at 20,000 runtime tenants) is read only when they are not those this replica last read,
    // heard or wrote.
    if (!whole && !pending_ && known_) {
        std::vector<std::string> stamp = {"HMGET", key_, "version", "origin"};
        const auto reply = co_await command_.command(std::move(stamp), left(deadline));
        if (!reply) co_return false;
        // Anything else (an error: the key holds no hash) is read whole, and reported there.
        if (reply->type == RedisValue::Type::array && reply->elements.size() == 2) {
            // As the write script reads them: a missing field is "0" or "".
            const auto text = [&](std::size_t i, const char* missing) {
                const auto& field = reply->elements[i];
                return field.type == RedisValue::Type::string ? field.text : std::string(missing);
            };
            const std::pair<std::string, std::string> stored{text(0, "0"), text(1, "")};
            // No state this replica can read: unchanged since, nothing to read again.
            if (known_ == Stamp{0, ""} && stored == stored_stamp_) co_return true;
            if (stamp_of(stored.first, stored.second) == known_) co_return true;
        }
    }
    if (!co_await read_whole(deadline)) co_return false;
    if (!pending_) co_return true;
    co_return co_await send(deadline);
}

asio::awaitable<bool> StateSync::read_whole(Clock::time_point deadline) {
    stale_ = false;
    reading_ = true;
    std::vector<std::string> read = {"HGETALL", key_};
    auto reply = co_await command_.command(std::move(read), left(deadline));
    reading_ = false;
    // Changes heard during the read follow it, or are in it already: taken after it.
    std::vector<std::string> heard = std::exchange(heard_while_reading_, {});
    if (!reply) co_return false;  // the reconnection reads whole again
    const auto take_heard = [&] {
        for (const auto& message : heard) on_message(message);
    };
    const bool is_hash = reply->type == RedisValue::Type::array;
    std::optional<RuntimeState> stored;
    std::string error = is_hash ? "" : "not a hash: " + reply->text;
    // The version and origin as the write script reads them, for a replacing write.
    stored_stamp_ = {"0", ""};
    if (is_hash && !reply->elements.empty()) {
        std::vector<std::string> flat;
        flat.reserve(reply->elements.size());
        for (auto& element : reply->elements) flat.push_back(std::move(element.text));
        for (std::size_t i = 0; i + 1 < flat.size(); i += 2) {
            if (flat[i] == "version") stored_stamp_.first = flat[i + 1];
            if (flat[i] == "origin") stored_stamp_.second = flat[i + 1];
        }
        stored = runtime_state_from_fields(std::move(flat), error);
    }
    const bool unreadable = !stored && !(is_hash && reply->elements.empty());
    if (unreadable && !warned_bad_key_)
        ops_log::warn("redis holds no runtime state: replaced by the next change",
                      {{"key", key_}, {"reason", error}});
    warned_bad_key_ = unreadable;
    if (stored) {
        known_ = Stamp{stored->version, stored->origin};
        take_whole(*stored);
    } else {
        known_ = Stamp{0, ""};
        synced_ = {};
        if (callbacks_.current().version != 0) pending_ = true;  // what changed here goes first
    }
    take_heard();
    co_return true;
}

/// Writes what the local state changed from what Redis holds, unless Redis holds a state this
/// replica has not merged yet: that one is then read whole and merged, and written again on
/// the next round.
asio::awaitable<bool> StateSync::send(Clock::time_point deadline) {
    pending_ = false;
    sending_ = true;
    const RuntimeState state = callbacks_.current();
    const Stamp base = known_.value_or(Stamp{0, ""});
    // No state this replica could read: it replaces what it saw, its own state whole.
    const bool replace = base.first == 0;
    // An entry dropped here (a tenant's release, with the tenant) is not dropped from Redis:
    // the other replicas' configs may still have the tenant.
    bool dropped = false;
    const RuntimeState change = replace ? state : changed_entries(synced_, state, dropped);
    std::vector<std::string> eval = {"EVAL",
                                     std::string(write_script),
                                     "1",
                                     key_,
                                     replace ? stored_stamp_.first : std::to_string(base.first),
                                     replace ? stored_stamp_.second : base.second,
                                     std::to_string(state.version),
                                     state.origin,
                                     replace ? "1" : "0",
                                     change_message(base, change)};
    auto fields = runtime_state_fields(change);
    eval.insert(eval.end(), std::make_move_iterator(fields.begin()),
                std::make_move_iterator(fields.end()));
    const auto reply = co_await command_.command(std::move(eval), left(deadline));
    if (reply && reply->type == RedisValue::Type::integer && reply->integer == 1) {
        sending_ = false;
        // A change heard meanwhile may have moved what is known past this write.
        if (!known_ || known_->first < state.version) known_ = Stamp{state.version, state.origin};
        synced_ = state;
        co_return true;
    }
    if (reply && reply->type == RedisValue::Type::integer) {
        // Refused. When the change that won was heard meanwhile, this replica has all Redis
        // has: it writes again at once. Else what Redis lacks is found against a whole read.
        bool read = true;
        if (known_ != base) {
            pending_ = true;
        } else {
            read = co_await read_whole(deadline);
        }
        sending_ = false;
        co_return read;
    }
    sending_ = false;
    pending_ = true;
    if (reply && reply->type == RedisValue::Type::error)
        ops_log::error("redis refused the runtime state script", {{"reason", reply->text}});
    co_return false;
}

void StateSync::on_message(std::string_view message) {
    if (reading_) {
        heard_while_reading_.emplace_back(message);
        return;
    }
    const auto newline = message.find('\n');
    std::string error = "expected two lines";
    const auto base = newline == std::string_view::npos
                          ? std::nullopt
                          : runtime_state_from_json(message.substr(0, newline), error);
    const auto change =
        base ? runtime_state_from_json(message.substr(newline + 1), error) : std::nullopt;
    if (!change) {
        ops_log::warn("ignored a malformed runtime state message",
                      {{"channel", key_}, {"reason", error}});
        return;
    }
    const Stamp from{base->version, base->origin};
    if (known_ == Stamp{change->version, change->origin}) return;  // written here
    // Read whole since (Redis' versions only grow), unless the state was replaced.
    if (known_ && change->version <= known_->first && from != Stamp{0, ""}) return;
    if (known_ != from) {
        // Made from a state this replica has not seen: read whole at once.
        stale_ = true;
        timer_.cancel();
        return;
    }
    known_ = Stamp{change->version, change->origin};
    take_change(*change);
}

void StateSync::take_whole(const RuntimeState& stored) {
    const RuntimeState local = callbacks_.current();
    RuntimeState merged = merge_runtime_states(local, stored);
    const bool news_there = !merged.same_entries(stored);
    // What Redis lacks is what the local state changed from the stored one.
    synced_ = news_there ? stored : merged;
    if (news_there) {
        pending_ = true;
        if (merged.version <= stored.version) {
            // A state neither side had: a version above both, so that Redis accepts it.
            merged.version = std::max(local.version, stored.version) + 1;
            merged.origin = replica_id_;
        }
    }
    adopt_if_new(local, std::move(merged));
}

void StateSync::take_change(const RuntimeState& change) {
    const RuntimeState local = callbacks_.current();
    RuntimeState merged = merge_runtime_states(local, change);
    // Redis now holds the change's entries as they are, even where this replica has a newer
    // one (a switch made on a replica whose clock is behind): that one is sent back.
    const bool kept_newer = holds_other_entries(merged, change);
    adopt_if_new(local, std::move(merged));
    if (kept_newer) pending_ = true;
    if (!pending_ && !sending_)
        synced_ = callbacks_.current();  // shares its tree with the local state
    else
        apply_changed_entries(synced_, change);
}

void StateSync::adopt_if_new(const RuntimeState& local, RuntimeState merged) {
    if (merged.version != local.version || !merged.same_entries(local))
        callbacks_.adopt(std::move(merged));
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
