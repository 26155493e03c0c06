#include "routing/bucket_table.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using std::chrono::nanoseconds;
using tg::routing::BucketKeys;
using tg::routing::BucketTable;
using tg::routing::gcra_rate;

namespace {

const auto ten_per_second = gcra_rate({10, 5});  // T = 100 ms, burst 5

int admit_all(BucketTable& table, std::uint64_t key, nanoseconds now) {
    int admitted = 0;
    while (admitted < 1000 &&
           table.admit(key, now, ten_per_second.interval, ten_per_second.capacity).allowed)
        ++admitted;
    return admitted;
}

tg::config::IpAddress v4(std::uint32_t n) {
    tg::config::IpAddress ip;
    for (int i = 0; i < 4; ++i) ip.bytes[i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
    return ip;
}

}  // namespace

TEST_CASE("bucket table: each key has its own bucket", "[routing][bucket_table]") {
    BucketTable table(12);
    CHECK(admit_all(table, 42, 10s) == 5);
    CHECK(admit_all(table, 43, 10s) == 5);
    const auto refused = table.admit(42, 10s, ten_per_second.interval, ten_per_second.capacity);
    CHECK_FALSE(refused.allowed);
    CHECK(refused.retry_after == 100ms);
    CHECK(admit_all(table, 42, 10s + 200ms) == 2);
}

TEST_CASE("bucket table: an entry expires once its bucket is full again",
          "[routing][bucket_table]") {
    BucketTable table(12);
    CHECK(admit_all(table, 7, 1s) == 5);
    CHECK(table.live(1s) == 1);
    CHECK(table.live(1s + 499ms) == 1);
    CHECK(table.live(1s + 500ms) == 0);  // 5 × 100 ms later the bucket holds the burst again
}

TEST_CASE("bucket table: a refund gives back a charge", "[routing][bucket_table]") {
    BucketTable table(12);
    CHECK(admit_all(table, 9, 0s) == 5);
    table.refund(9, ten_per_second.interval);
    CHECK(admit_all(table, 9, 0s) == 1);
}

TEST_CASE("bucket table: a million clients fit in fixed memory", "[routing][bucket_table]") {
    BucketTable table(16);
    const BucketKeys keys(12345);
    const auto start = 100s;
    // Every client spends its whole burst within one second: all stay live, far more of them
    // than there are slots. The table keeps the newest in each window and never grows.
    for (std::uint32_t n = 0; n < 1'000'000; ++n) {
        const auto now = start + nanoseconds(n);
        const auto key = keys.client("acme", v4(n));
        REQUIRE(table.admit(key, now, ten_per_second.interval, ten_per_second.capacity).allowed);
    }
    const auto live = table.live(start + 1ms);
    CHECK(live <= table.capacity());
    CHECK(live > table.capacity() * 9 / 10);  // the probe window fills the table evenly
    // A client seen last is still tracked: its second burst is refused as it should be.
    const auto last = keys.client("acme", v4(999'999));
    CHECK(admit_all(table, last, start + 1ms) == 4);
}

TEST_CASE("bucket table: in-flight counts hold a slot until the last leaves",
          "[routing][bucket_table]") {
    BucketTable table(12);
    CHECK(table.enter(5, 0s, 2) == std::optional(true));
    CHECK(table.enter(5, 0s, 2) == std::optional(true));
    CHECK(table.enter(5, 0s, 2) == std::optional(false));
    CHECK(table.live(1h) == 1);
    table.leave(5);
    CHECK(table.enter(5, 0s, 2) == std::optional(true));
    table.leave(5);
    table.leave(5);
    CHECK(table.live(1h) == 0);
}

TEST_CASE("bucket keys: tenants, addresses and families are told apart",
          "[routing][bucket_table]") {
    const BucketKeys keys(1);
    tg::config::IpAddress v6 = v4(0x01020304);
    v6.v6 = true;
    CHECK(keys.client("acme", v4(0x01020304)) != keys.client("acme", v6));
    CHECK(keys.client("acme", v4(1)) != keys.client("globex", v4(1)));
    CHECK(keys.client("acme", v4(1)) != keys.client("acme", v4(2)));
    CHECK(keys.tenant("acme") != keys.tenant("acmf"));
    CHECK(BucketKeys(2).tenant("acme") != keys.tenant("acme"));
    CHECK(keys.tenant("") != 0);
}
