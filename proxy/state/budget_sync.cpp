#include "proxy/state/budget_sync.hpp"

#include <algorithm>

#include "proxy/observe/ops_log.hpp"
#include "routing/rate_limit.hpp"

namespace tg::proxy {
namespace {

/// ARGV: prefix, replica id, tenant count, then per tenant: name, admitted, attempted,
/// interval (µs), capacity (µs). Returns live replicas, then per tenant: how far the cluster
/// bucket runs ahead of now (µs) and this replica's share of the budget in millionths.
///
/// A replica's share follows its part of the demand of the last two one-second windows,
/// smoothed by a prior of burst/N requests per replica so that an idle replica keeps a little
/// and shares split evenly before any demand. It is granted only out of what the other
/// replicas do not hold, so the shares in force never add up to more than one budget: a replica
/// whose demand shows up first waits for the others to give some back at their next round instead
/// of taking the whole budget while they still hold theirs. A share not renewed for 3 s (its
/// replica is gone, or no longer limits that tenant) is no longer held.
/// Redis' own clock is the only one used, so replicas' clocks may differ.
constexpr std::string_view reconcile_script = R"lua(
local prefix, id, count = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local replicas = prefix .. 'replicas'
redis.call('ZADD', replicas, now, id)
redis.call('ZREMRANGEBYSCORE', replicas, '-inf', now - 3000000)
redis.call('PEXPIRE', replicas, 10000)
local n = redis.call('ZCARD', replicas)
local out = {n}
local window = math.floor(now / 1000000)
for i = 0, count - 1 do
  local a = 4 + i * 5
  local name = ARGV[a]
  local admitted, attempted = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local interval, capacity = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local key = prefix .. 'budget:' .. name
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  tat = math.min(tat + admitted * interval, now + capacity + 60000000)
  redis.call('SET', key, string.format('%.0f', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
  local current = prefix .. 'demand:' .. name .. ':' .. window
  if attempted > 0 then
    redis.call('HINCRBY', current, id, attempted)
    redis.call('PEXPIRE', current, 3000)
  end
  local mine, total = 0, 0
  for _, k in ipairs({current, prefix .. 'demand:' .. name .. ':' .. (window - 1)}) do
    local fields = redis.call('HGETALL', k)
    for j = 1, #fields, 2 do
      local v = tonumber(fields[j + 1])
      total = total + v
      if fields[j] == id then mine = mine + v end
    end
  end
  local prior = math.max(capacity / interval, 1) / n
  local wanted = math.floor(1000000 * (mine + prior) / (total + n * prior))
  local grants = prefix .. 'grants:' .. name
  local held = 0
  local fields = redis.call('HGETALL', grants)
  for j = 1, #fields, 2 do
    if fields[j] ~= id then
      local held_share, since = string.match(fields[j + 1], '^(%d+):(%d+)$')
      if held_share and now - tonumber(since) <= 3000000 then
        held = held + tonumber(held_share)
      else
        redis.call('HDEL', grants, fields[j])
      end
    end
  end
  local share = math.max(0, math.min(wanted, 1000000 - held))
  redis.call('HSET', grants, id, string.format('%d:%d', share, now))
  redis.call('PEXPIRE', grants, 10000)
  table.insert(out, tat - now)
  table.insert(out, share)
end
return out
)lua";

/// Raises `tat` to at least `value`.
void raise_to(std::atomic<std::int64_t>& tat, std::int64_t value) {
    auto current = tat.load(std::memory_order_relaxed);
    while (current < value &&
           !tat.compare_exchange_weak(current, value, std::memory_order_relaxed)) {
    }
}

}  // namespace

BudgetSync::BudgetSync(asio::io_context& control, RedisAddress address, const config::State& state,
                       Limiter& limiter, CurrentGeneration current, std::string replica_id)
    : redis_(control, std::move(address)),
      key_prefix_(state.key_prefix),
      on_failure_(state.rate_limit_on_redis_failure),
      limiter_(limiter),
      current_(std::move(current)),
      replica_id_(std::move(replica_id)),
      timer_(control) {
    limiter_.set_counting(true);
}

void BudgetSync::stop() {
    stopped_ = true;
    timer_.cancel();
    redis_.disconnect();
}

asio::awaitable<void> BudgetSync::run() {
    RedisBackoff backoff;
    bool reported_down = false;
    while (!stopped_) {
        Clock::duration wait = interval;
        if (!redis_.connected()) {
            std::string error;
            if (co_await redis_.connect(RedisClient::call_timeout, error)) {
                backoff.reset();
            } else {
                if (stopped_) co_return;
                if (!reported_down) {
                    ops_log::warn(
                        "redis unreachable: tenant budgets follow "
                        "rate_limit_on_redis_failure",
                        {{"redis", redis_.address().display}, {"reason", error}});
                    reported_down = true;
                }
                went_down(error);
                wait = backoff.next();
            }
        }
        if (redis_.connected()) {
            if (co_await reconcile()) {
                if (!up_) {
                    up_ = true;
                    ever_up_ = true;
                    reported_down = false;
                    limiter_.set_mode(BudgetMode::enforce);
                    ops_log::info("redis connected: tenant budgets shared",
                                  {{"redis", redis_.address().display},
                                   {"replicas", std::to_string(replicas_), true}});
                }
            } else if (!stopped_) {
                redis_.disconnect();
                if (!reported_down) {
                    ops_log::warn(
                        "redis stopped answering: tenant budgets follow "
                        "rate_limit_on_redis_failure",
                        {{"redis", redis_.address().display}});
                    reported_down = true;
                }
                went_down("no answer");
            }
        }
        if (stopped_) co_return;
        timer_.expires_after(wait);
        co_await timer_.async_wait(use_nothrow);
    }
}

void BudgetSync::went_down(std::string_view) {
    up_ = false;
    apply_failure_policy();
}

void BudgetSync::apply_failure_policy() {
    switch (on_failure_) {
        case config::RedisFailurePolicy::open:
            limiter_.set_mode(BudgetMode::open);
            return;
        case config::RedisFailurePolicy::closed:
            limiter_.set_mode(BudgetMode::closed);
            return;
        case config::RedisFailurePolicy::local:
            break;
    }
    // Each replica keeps its last known share of the budget: 1/N of it.
    limiter_.set_mode(BudgetMode::enforce);
    const auto generation = current_();
    const auto& hosts = generation->hosts();
    const auto now = Clock::now().time_since_epoch();
    for (std::size_t slot = 0; slot < hosts.slot_count(); ++slot) {
        if (!hosts.tenant_at(slot)) continue;
        set_cost(*generation->budget(slot),
                 static_cast<std::uint32_t>(1000 * std::max<std::uint64_t>(replicas_, 1)), now);
    }
}

asio::awaitable<bool> BudgetSync::reconcile() {
    const auto generation = current_();
    struct Row {
        TenantBudget* budget;
        routing::GcraRate rate;
        Reported seen;
        Reported* reported;
    };
    std::vector<Row> rows;
    std::vector<std::string> arguments = {
        "EVAL", std::string(reconcile_script), "0", key_prefix_, replica_id_, ""};
    const auto& hosts = generation->hosts();
    for (std::size_t slot = 0; slot < hosts.slot_count(); ++slot) {
        const config::Tenant* tenant = hosts.tenant_at(slot);
        if (!tenant || !tenant->policy.rate_limit) continue;
        const std::string& name = tenant->name;
        auto* budget = generation->budget(slot);
        const auto rate = routing::gcra_rate(*tenant->policy.rate_limit);
        Reported seen{budget->admitted.load(std::memory_order_relaxed),
                      budget->attempts.load(std::memory_order_relaxed)};
        auto& reported = reported_[name];
        arguments.push_back(name);
        arguments.push_back(std::to_string(seen.admitted - reported.admitted));
        arguments.push_back(std::to_string(seen.attempts - reported.attempts));
        arguments.push_back(
            std::to_string(std::max<std::int64_t>(1, rate.interval.count() / 1000)));
        arguments.push_back(std::to_string(rate.capacity.count() / 1000));
        rows.push_back({budget, rate, seen, &reported});
    }
    arguments[5] = std::to_string(rows.size());
    const auto reply = co_await redis_.command(std::move(arguments), RedisClient::call_timeout);
    if (!reply || reply->type != RedisValue::Type::array ||
        reply->elements.size() != 1 + 2 * rows.size()) {
        if (reply && reply->type == RedisValue::Type::error)
            ops_log::error("redis refused the budget script", {{"reason", reply->text}});
        co_return false;
    }
    // The generation may have changed while the call was out: rows hold budgets (kept alive by
    // `generation`) and their own counters, so the answer still applies to them.
    replicas_ = static_cast<std::uint64_t>(std::max<long long>(1, reply->elements[0].integer));
    const auto now = Clock::now().time_since_epoch();
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto ahead_us = reply->elements[1 + 2 * i].integer;
        const auto share_ppm =
            std::clamp<long long>(reply->elements[2 + 2 * i].integer, 1, 1'000'000);
        const auto cost_milli = static_cast<std::uint32_t>(1'000'000'000 / share_ppm);
        set_cost(*rows[i].budget, cost_milli, now);
        const auto floor = routing::gcra_cluster_floor(now, std::chrono::microseconds(ahead_us),
                                                       rows[i].rate.capacity, cost_milli);
        raise_to(rows[i].budget->tat_ns, floor.count());
        *rows[i].reported = rows[i].seen;
    }
    co_return true;
}

}  // namespace tg::proxy
