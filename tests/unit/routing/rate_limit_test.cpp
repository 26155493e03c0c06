#include "routing/rate_limit.hpp"

#include <catch2/catch.hpp>

#include <limits>

using namespace std::chrono_literals;
using std::chrono::nanoseconds;
using tg::config::RateLimit;
using tg::routing::retry_after_seconds;

namespace {

/// A bucket owned by one test: the state a caller keeps between gcra_step calls.
struct Gcra {
    nanoseconds tat{0};

    tg::routing::GcraStep admit(nanoseconds now, const RateLimit& limit, std::uint64_t cost = 1) {
        const auto rate = tg::routing::gcra_rate(limit);
        const auto step = tg::routing::gcra_step(tat, now, tg::routing::gcra_increment(rate, cost),
                                                 rate.capacity);
        tat = step.tat;
        return step;
    }
};

/// Admits requests at `now` until one is refused; returns how many passed.
int admit_all(Gcra& bucket, nanoseconds now, const RateLimit& limit) {
    int admitted = 0;
    while (bucket.admit(now, limit).allowed) ++admitted;
    return admitted;
}

}  // namespace

TEST_CASE("GCRA admits exactly the burst from idle", "[routing][rate_limit]") {
    const RateLimit limit{200, 400};
    Gcra bucket;
    const nanoseconds t0 = 1'000'000s;
    CHECK(admit_all(bucket, t0, limit) == 400);
    const auto refused = bucket.admit(t0, limit);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.retry_after == 5ms);  // 1/200 s
}

TEST_CASE("GCRA refills one request per 1/rate", "[routing][rate_limit]") {
    const RateLimit limit{10, 3};
    Gcra bucket;
    const nanoseconds t0 = 0ns;
    CHECK(admit_all(bucket, t0, limit) == 3);
    const auto refused = bucket.admit(t0 + 40ms, limit);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.retry_after == 60ms);
    CHECK_FALSE(bucket.admit(t0 + 100ms - 1ns, limit).allowed);
    CHECK(bucket.admit(t0 + 100ms, limit).allowed);
    CHECK_FALSE(bucket.admit(t0 + 100ms, limit).allowed);
    CHECK(bucket.admit(t0 + 200ms, limit).allowed);
    // Half a second later, 5 intervals have passed but the bucket holds only 3.
    CHECK(admit_all(bucket, t0 + 700ms, limit) == 3);
}

TEST_CASE("GCRA does not accumulate beyond the burst", "[routing][rate_limit]") {
    const RateLimit limit{5, 2};
    Gcra bucket;
    CHECK(admit_all(bucket, 0s, limit) == 2);
    CHECK(admit_all(bucket, 24h, limit) == 2);
    CHECK(admit_all(bucket, 24h + 1s, limit) == 2);
}

TEST_CASE("GCRA sustains the configured rate", "[routing][rate_limit]") {
    const RateLimit limit{50, 10};
    Gcra bucket;
    int admitted = 0;
    // One attempt per millisecond for 10 s: the burst plus 50 per second.
    for (nanoseconds now = 0ns; now < 10s; now += 1ms) admitted += bucket.admit(now, limit).allowed;
    CHECK(admitted == 10 + 50 * 10 - 1);
}

TEST_CASE("GCRA handles rates whose interval is not a whole nanosecond count",
          "[routing][rate_limit]") {
    for (const double rate : {3.0, 1.5, 7.0, 0.3, 1e6}) {
        INFO("rate " << rate);
        const RateLimit limit{rate, 3};
        Gcra bucket;
        CHECK(admit_all(bucket, 5s, limit) == 3);
    }
    const RateLimit fractional{1, 2.5};
    Gcra bucket;
    CHECK(admit_all(bucket, 0s, fractional) == 2);
    CHECK(bucket.admit(500ms, fractional).allowed);  // half a token left plus half refilled
}

TEST_CASE("GCRA charges a cost and refuses more than the burst", "[routing][rate_limit]") {
    const RateLimit limit{1, 10};
    Gcra bucket;
    CHECK(bucket.admit(0s, limit, 6).allowed);
    const auto refused = bucket.admit(0s, limit, 6);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.retry_after == 2s);
    CHECK(bucket.admit(0s, limit, 4).allowed);
    const auto too_big = Gcra{}.admit(0s, limit, 11);
    CHECK_FALSE(too_big.allowed);
}

TEST_CASE("GCRA a refused request costs nothing", "[routing][rate_limit]") {
    const RateLimit limit{1, 1};
    Gcra bucket;
    CHECK(bucket.admit(0s, limit).allowed);
    const auto tat = bucket.tat;
    for (int i = 0; i < 100; ++i) CHECK_FALSE(bucket.admit(500ms, limit).allowed);
    CHECK(bucket.tat == tat);
    CHECK(bucket.admit(1s, limit).allowed);
}

TEST_CASE("GCRA state can be reconciled", "[routing][rate_limit]") {
    const RateLimit limit{10, 5};
    Gcra bucket;
    CHECK(bucket.tat == 0ns);
    CHECK(bucket.admit(1s, limit).allowed);
    CHECK(bucket.tat == 1s + 100ms);
    // The cluster spent the whole budget: this replica adopts the later TAT.
    bucket.tat = 1s + 500ms;
    const auto refused = bucket.admit(1s, limit);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.retry_after == 100ms);
}

TEST_CASE("GCRA saturates instead of overflowing", "[routing][rate_limit]") {
    const RateLimit slow{1e-12, 1};
    Gcra bucket;
    CHECK(bucket.admit(0s, slow).allowed);
    const auto refused = bucket.admit(0s, slow, 4'000'000'000u);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.retry_after > 0ns);
}

TEST_CASE("GCRA scales an increment by a share's cost, saturating", "[routing][rate_limit]") {
    const auto rate = tg::routing::gcra_rate({3, 10});  // interval 333,333,333 ns
    CHECK(tg::routing::gcra_scaled_increment(rate, 1000) == rate.interval);
    CHECK(tg::routing::gcra_scaled_increment(rate, 3000) == 999'999'999ns);
    CHECK(tg::routing::gcra_scaled_increment(rate, 1500) == 499'999'999ns);
    const auto slowest = tg::routing::gcra_rate({1e-12, 1});
    CHECK(tg::routing::gcra_scaled_increment(slowest, 1'000'000'000) ==
          nanoseconds(std::numeric_limits<nanoseconds::rep>::max()));
}

TEST_CASE("GCRA rescaled to a new cost keeps the requests already spent", "[routing][rate_limit]") {
    const auto rate = tg::routing::gcra_rate({1, 30});
    // A third of the budget (cost 3000), of which 4 of 10 requests are spent.
    auto tat = 10s + 4 * tg::routing::gcra_scaled_increment(rate, 3000);
    // Half the budget now: 15 requests in all, so 11 more.
    tat = tg::routing::gcra_rescale(tat, 10s, 3000, 2000);
    int admitted = 0;
    for (;;) {
        const auto step = tg::routing::gcra_step(
            tat, 10s, tg::routing::gcra_scaled_increment(rate, 2000), rate.capacity);
        if (!step.allowed) break;
        tat = step.tat;
        ++admitted;
    }
    CHECK(admitted == 11);
    // A sixth now: the 15 spent are 10 over its 5. At one request per 6 s, the next waits for
    // those 10 and its own: 66 s.
    tat = tg::routing::gcra_rescale(tat, 10s, 2000, 6000);
    const auto refused = tg::routing::gcra_step(
        tat, 10s, tg::routing::gcra_scaled_increment(rate, 6000), rate.capacity);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.retry_after == 66s);
    // A bucket that has refilled has nothing to rescale.
    CHECK(tg::routing::gcra_rescale(5s, 10s, 1000, 6000) == 5s);
}

TEST_CASE("GCRA cluster floor leaves a replica no more than the cluster has left",
          "[routing][rate_limit]") {
    using tg::routing::gcra_cluster_floor;
    const auto rate = tg::routing::gcra_rate({1, 30});  // capacity 30 s
    // A third of the budget while the cluster has spent 6 of 30: its own 10 are all left.
    CHECK(gcra_cluster_floor(100s, 6s, rate.capacity, 3000) == 100s);
    // The cluster has spent 27: 3 left, so a bucket at a third may keep 9 s of its 30 free.
    CHECK(gcra_cluster_floor(100s, 27s, rate.capacity, 3000) == 121s);
    // Spent or over budget: it waits as long as the cluster does.
    CHECK(gcra_cluster_floor(100s, 30s, rate.capacity, 3000) == 130s);
    CHECK(gcra_cluster_floor(100s, 45s, rate.capacity, 3000) == 145s);
    // An idle cluster (its bucket behind now) constrains nothing.
    CHECK(gcra_cluster_floor(100s, -5s, rate.capacity, 1000) == 100s);
}

TEST_CASE("retry_after_seconds rounds up to at least one second", "[routing][rate_limit]") {
    CHECK(retry_after_seconds(0ns) == 1);
    CHECK(retry_after_seconds(-5s) == 1);
    CHECK(retry_after_seconds(1ns) == 1);
    CHECK(retry_after_seconds(5ms) == 1);
    CHECK(retry_after_seconds(1s) == 1);
    CHECK(retry_after_seconds(1s + 1ns) == 2);
    CHECK(retry_after_seconds(59s + 999ms) == 60);
    CHECK(retry_after_seconds(nanoseconds::max()) ==
          nanoseconds::max().count() / 1'000'000'000 + 1);
}
