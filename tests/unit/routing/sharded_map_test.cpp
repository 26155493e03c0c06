#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "routing/sharded_map.hpp"

using tg::routing::ShardedMap;

namespace {

using Model = std::unordered_map<std::string, int>;

/// Checks every read of `map` against `model`, probing with `probes` (present or not).
void check_same(const ShardedMap<int>& map, const Model& model,
                const std::vector<std::string>& probes) {
    REQUIRE(map.size() == model.size());
    REQUIRE(map.empty() == model.empty());
    // Same size and every entry of the model found: the same entries.
    for (const auto& [key, value] : model) {
        const int* found = map.find(key);
        REQUIRE(found != nullptr);
        REQUIRE(*found == value);
    }
    for (const std::string& probe : probes) {
        INFO(probe);
        const auto expected = model.find(probe);
        const int* found = map.find(probe);
        REQUIRE((found == nullptr) == (expected == model.end()));
        if (found != nullptr) REQUIRE(*found == expected->second);
    }
}

std::string host_for(long number) {
    return "erp" + std::to_string(number) + ".example.com";
}

}  // namespace

TEST_CASE("ShardedMap follows std::unordered_map through random changes",
          "[routing][sharded_map]") {
    std::mt19937 random(20240611);
    ShardedMap<int> map;
    Model model;
    // Earlier versions and what each held: none may see a later change.
    std::vector<std::pair<ShardedMap<int>, Model>> versions;

    std::vector<std::string> probes{"", "erp", "example.com", "erp1.example.co"};
    for (long number = 0; number < 3000; number += 11) probes.push_back(host_for(number));

    for (int step = 0; step < 6000; ++step) {
        const std::string key = host_for(random() % 3000);
        const int value = static_cast<int>(random() % 1000);
        if (random() % 3 != 0) {
            REQUIRE(map.insert_or_assign(key, value) == !model.contains(key));
            model.insert_or_assign(key, value);
        } else {
            REQUIRE(map.erase(key) == (model.erase(key) == 1));
        }
        if (step % 500 == 0) {
            check_same(map, model, probes);
            versions.emplace_back(map, model);
        }
    }
    check_same(map, model, probes);
    for (const auto& [version, held] : versions) check_same(version, held, probes);
}

TEST_CASE("ShardedMap copies do not see each other's changes", "[routing][sharded_map]") {
    ShardedMap<int> before;
    before.insert_or_assign("acme.example.com", 1);
    before.insert_or_assign("globex.example.com", 2);

    ShardedMap<int> after = before;
    after.insert_or_assign("initech.example.com", 3);
    after.insert_or_assign("acme.example.com", 10);
    after.erase("globex.example.com");
    CHECK(before.size() == 2);
    CHECK(*before.find("acme.example.com") == 1);
    CHECK(before.find("globex.example.com") != nullptr);
    CHECK(before.find("initech.example.com") == nullptr);

    before.insert_or_assign("umbrella.example.com", 4);
    CHECK(after.find("umbrella.example.com") == nullptr);
    CHECK(after.size() == 2);
    CHECK(*after.find("acme.example.com") == 10);
}

TEST_CASE("ShardedMap changes copy one shard", "[routing][sharded_map]") {
    ShardedMap<int> base;
    for (long number = 0; number < 20000; ++number) {
        base.insert_or_assign(host_for(number), static_cast<int>(number));
    }
    const std::size_t all = ShardedMap<int>::shard_count;

    ShardedMap<int> copy = base;
    CHECK(copy.shards_shared_with(base) == all);
    copy.insert_or_assign("new.example.com", -1);
    CHECK(copy.shards_shared_with(base) == all - 1);
    copy.insert_or_assign("new.example.com", -2);  // the same shard again
    CHECK(copy.shards_shared_with(base) == all - 1);
    CHECK(*copy.find("new.example.com") == -2);
    CHECK(base.find("new.example.com") == nullptr);

    ShardedMap<int> erased = base;
    CHECK(erased.erase(host_for(42)));
    CHECK(erased.shards_shared_with(base) == all - 1);
    CHECK(erased.size() == base.size() - 1);
    CHECK(*base.find(host_for(42)) == 42);

    ShardedMap<int> untouched = base;
    CHECK_FALSE(untouched.erase("absent.example.com"));
    CHECK(untouched.shards_shared_with(base) == all);
    CHECK(untouched.size() == base.size());
}

TEST_CASE("ShardedMap takes the empty key and empties shards again", "[routing][sharded_map]") {
    ShardedMap<int> map;
    CHECK(map.empty());
    CHECK(map.find("") == nullptr);
    CHECK_FALSE(map.erase(""));

    CHECK(map.insert_or_assign("", 7));
    CHECK_FALSE(map.insert_or_assign("", 8));
    CHECK(*map.find("") == 8);
    CHECK(map.size() == 1);

    CHECK(map.erase(""));
    CHECK(map.empty());
    CHECK(map.find("") == nullptr);
    CHECK(map.shards_shared_with(ShardedMap<int>()) == ShardedMap<int>::shard_count);
}

TEST_CASE("ShardedMap moves leave the source empty", "[routing][sharded_map]") {
    ShardedMap<int> source;
    source.insert_or_assign("acme.example.com", 1);
    ShardedMap<int> moved(std::move(source));
    CHECK(*moved.find("acme.example.com") == 1);
    CHECK(source.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is promised
    CHECK(source.find("acme.example.com") == nullptr);  // NOLINT(bugprone-use-after-move)

    ShardedMap<int> assigned;
    assigned.insert_or_assign("globex.example.com", 2);
    assigned = std::move(moved);
    CHECK(assigned.size() == 1);
    CHECK(assigned.find("globex.example.com") == nullptr);
    CHECK(moved.empty());  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("ShardedMap copies are read on other threads", "[routing][sharded_map]") {
    ShardedMap<int> map;
    for (long number = 0; number < 2000; ++number) {
        map.insert_or_assign(host_for(number), static_cast<int>(number));
    }
    std::vector<std::thread> readers;
    std::vector<long> sums(4, 0);
    for (std::size_t reader = 0; reader < sums.size(); ++reader) {
        readers.emplace_back([copy = map, &sum = sums[reader]]() mutable {
            for (long number = 0; number < 2000; ++number) sum += *copy.find(host_for(number));
            copy.insert_or_assign("mine.example.com", 1);  // changes this thread's copy only
        });
    }
    for (long number = 0; number < 2000; number += 2) map.erase(host_for(number));
    for (std::thread& reader : readers) reader.join();
    for (long sum : sums) CHECK(sum == 1999L * 2000 / 2);
    CHECK(map.size() == 1000);
}
