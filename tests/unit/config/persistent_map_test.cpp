#include <catch2/catch.hpp>

#include <cmath>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "config/persistent_map.hpp"

using tg::config::PersistentMap;

namespace {

static_assert(std::forward_iterator<PersistentMap<int>::const_iterator>);

/// A value that counts its live instances: a map change that shares what it did not touch
/// creates exactly one new value per new node, so the count measures the nodes built.
struct Counted {
    explicit Counted(int number_) : number(number_) { ++live; }
    Counted(const Counted& other) : number(other.number) { ++live; }
    Counted& operator=(const Counted&) = default;
    ~Counted() { --live; }

    static inline long live = 0;
    int number;
};

using Model = std::map<std::string, int>;

/// Checks every read of `map` against `model`, probing with `probes` (present or not).
void check_same(const PersistentMap<int>& map, const Model& model,
                const std::vector<std::string>& probes) {
    REQUIRE(map.size() == model.size());
    REQUIRE(map.empty() == model.empty());
    REQUIRE(std::equal(map.begin(), map.end(), model.begin(), model.end()));
    for (const std::string& probe : probes) {
        INFO(probe);
        const auto expected = model.find(probe);
        const auto found = map.find(probe);
        REQUIRE((found == map.end()) == (expected == model.end()));
        REQUIRE(map.contains(probe) == (expected != model.end()));
        if (expected != model.end()) {
            REQUIRE(found->second == expected->second);
            REQUIRE(*map.get(probe) == expected->second);
        } else {
            REQUIRE(map.get(probe) == nullptr);
        }
        // Iterating on from a lookup walks the same tail as the model.
        if (expected != model.end()) REQUIRE(std::equal(found, map.end(), expected, model.end()));
    }
}

std::string key_for(long number) {
    return "tenant-" + std::to_string(number);
}

}  // namespace

TEST_CASE("PersistentMap follows std::map through random changes", "[config][persistent_map]") {
    std::mt19937 random(20240611);
    PersistentMap<int> map;
    Model model;
    // Earlier versions and what each held: none may see a later change.
    std::vector<std::pair<PersistentMap<int>, Model>> versions;

    std::vector<std::string> probes{"", "a", "tenant-", "tenant-5", "tenant-50a", "zzz"};
    for (unsigned number = 0; number < 700; number += 7) probes.push_back(key_for(number));

    for (int step = 0; step < 4000; ++step) {
        const std::string key = key_for(random() % 700);
        const int value = static_cast<int>(random() % 1000);
        switch (random() % 4) {
            case 0:
            case 1:
                REQUIRE(map.insert_or_assign(key, value) == !model.contains(key));
                model.insert_or_assign(key, value);
                break;
            case 2: {
                const auto [where, added] = map.emplace(key, value);
                const auto [expected, expected_added] = model.emplace(key, value);
                REQUIRE(added == expected_added);
                REQUIRE(where->first == key);
                REQUIRE(where->second == expected->second);
                break;
            }
            default:
                REQUIRE(map.erase(key) == (model.erase(key) == 1));
        }
        if (step % 250 == 0) {
            check_same(map, model, probes);
            versions.emplace_back(map, model);
        }
    }
    check_same(map, model, probes);
    for (const auto& [version, held] : versions) check_same(version, held, probes);
}

TEST_CASE("PersistentMap copies do not see each other's changes", "[config][persistent_map]") {
    PersistentMap<int> before;
    before.insert_or_assign("acme", 1);
    before.insert_or_assign("globex", 2);

    PersistentMap<int> after = before;
    after.insert_or_assign("initech", 3);
    after.insert_or_assign("acme", 10);
    after.erase("globex");
    CHECK(before.size() == 2);
    CHECK(*before.get("acme") == 1);
    CHECK(before.contains("globex"));
    CHECK_FALSE(before.contains("initech"));

    before.insert_or_assign("umbrella", 4);
    CHECK_FALSE(after.contains("umbrella"));
    CHECK(after.size() == 2);
    CHECK(*after.get("acme") == 10);

    before.clear();
    CHECK(before.empty());
    CHECK(after.size() == 2);
    CHECK(after.find("initech")->second == 3);
}

TEST_CASE("PersistentMap equality looks at contents, not at sharing", "[config][persistent_map]") {
    PersistentMap<int> forward;
    PersistentMap<int> backward;
    for (unsigned number = 0; number < 500; ++number) {
        forward.insert_or_assign(key_for(number), static_cast<int>(number));
        backward.insert_or_assign(key_for(499 - number), static_cast<int>(499 - number));
    }
    CHECK(forward == backward);  // built apart: no node shared
    CHECK(forward == PersistentMap<int>(forward));

    PersistentMap<int> changed = forward;
    changed.insert_or_assign(key_for(250), -1);
    CHECK_FALSE(changed == forward);
    changed.insert_or_assign(key_for(250), 250);
    CHECK(changed == forward);  // equal again, though the path to tenant-250 is new

    changed.erase(key_for(3));
    CHECK_FALSE(changed == forward);
    changed.insert_or_assign("tenant-3x", 3);  // same size, other key
    CHECK_FALSE(changed == forward);

    CHECK(PersistentMap<int>() == PersistentMap<int>());
    CHECK_FALSE(PersistentMap<int>() == forward);
}

TEST_CASE("PersistentMap changes build O(log n) nodes and share the rest",
          "[config][persistent_map]") {
    static constexpr long count = 20000;  // static: the lambdas below read it uncaptured
    {
        PersistentMap<Counted> base;
        for (int number = 0; number < count; ++number) {
            base.emplace(key_for(number), Counted(number));
        }
        REQUIRE(Counted::live == count);

        // Every node holds one value, so the values a change leaves alive count the nodes it
        // built. A treap of 20,000 keys is ~2 ln n = 20 deep on average and seldom deeper than
        // 3 log2 n = 42; a change that copied the map would build 20,000.
        const long bound = static_cast<long>(3 * std::log2(count));
        const auto nodes_built_by = [&base](auto change) {
            PersistentMap<Counted> copy = base;
            const long before = Counted::live;
            change(copy);
            CHECK(base.size() == count);
            return Counted::live - before;
        };

        const long inserted = nodes_built_by([](PersistentMap<Counted>& copy) {
            copy.insert_or_assign("tenant-new", Counted(-1));
            CHECK(copy.size() == count + 1);
        });
        CHECK(inserted >= 1);
        CHECK(inserted <= bound);

        const long assigned = nodes_built_by([](PersistentMap<Counted>& copy) {
            copy.insert_or_assign(key_for(12345), Counted(-2));
            CHECK(copy.get(key_for(12345))->number == -2);
        });
        CHECK(assigned >= 1);
        CHECK(assigned <= bound);
        CHECK(base.get(key_for(12345))->number == 12345);

        const long erased = nodes_built_by([](PersistentMap<Counted>& copy) {
            CHECK(copy.erase(key_for(777)));
            CHECK(copy.size() == count - 1);
        });
        CHECK(erased <= bound);

        const long erased_absent = nodes_built_by(
            [](PersistentMap<Counted>& copy) { CHECK_FALSE(copy.erase("tenant-absent")); });
        CHECK(erased_absent == 0);
        CHECK(Counted::live == count);  // the copies are gone, and only what they built with them
    }
    CHECK(Counted::live == 0);  // and LeakSanitizer checks the nodes
}

TEST_CASE("PersistentMap moves leave the source empty", "[config][persistent_map]") {
    PersistentMap<int> source;
    source.insert_or_assign("acme", 1);
    PersistentMap<int> moved(std::move(source));
    CHECK(moved.size() == 1);
    CHECK(source.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is promised
    CHECK(source.begin() == source.end());

    PersistentMap<int> assigned;
    assigned.insert_or_assign("globex", 2);
    assigned = std::move(moved);
    CHECK(assigned.size() == 1);
    CHECK(*assigned.get("acme") == 1);
    CHECK_FALSE(assigned.contains("globex"));
    CHECK(moved.size() == 0);  // NOLINT(bugprone-use-after-move)
}

TEST_CASE("PersistentMap reads an empty map and absent keys", "[config][persistent_map]") {
    PersistentMap<int> map;
    CHECK(map.begin() == map.end());
    CHECK(map.find("acme") == map.end());
    CHECK(map.get("acme") == nullptr);
    CHECK_FALSE(map.erase("acme"));
    int visited = 0;
    for ([[maybe_unused]] const auto& entry : map) ++visited;
    CHECK(visited == 0);

    map.insert_or_assign("", 7);  // the empty key is a key like any other
    CHECK(map.find("")->second == 7);
    CHECK(map.begin()->first.empty());
    CHECK_FALSE(map.erase("acme"));
    CHECK(map.size() == 1);
}

TEST_CASE("PersistentMap reads like a std::map", "[config][persistent_map]") {
    PersistentMap<std::string> map;
    map.insert_or_assign("globex", "b");
    map.insert_or_assign("acme", "a");
    map.insert_or_assign("initech", "c");

    std::string names;
    std::string values;
    for (const auto& [name, value] : map) {
        names += name + ",";
        values += value;
    }
    CHECK(names == "acme,globex,initech,");
    CHECK(values == "abc");

    auto found = map.find("globex");
    CHECK(found->second == "b");
    CHECK((++found)->first == "initech");
    CHECK(found++ != map.end());
    CHECK(found == map.end());
    CHECK(std::distance(map.begin(), map.end()) == 3);

    const auto [where, added] = map.emplace("acme", "z");
    CHECK_FALSE(added);
    CHECK(where->second == "a");  // emplace does not overwrite
}

TEST_CASE("PersistentMap copies are read on other threads", "[config][persistent_map]") {
    PersistentMap<int> map;
    for (unsigned number = 0; number < 2000; ++number) {
        map.insert_or_assign(key_for(number), static_cast<int>(number));
    }
    std::vector<std::thread> readers;
    std::vector<long> sums(4, 0);
    for (std::size_t reader = 0; reader < sums.size(); ++reader) {
        readers.emplace_back([copy = map, &sum = sums[reader]]() mutable {
            for (const auto& [name, number] : copy) sum += number;
            copy.insert_or_assign("mine", 1);  // changes this thread's copy only
        });
    }
    for (unsigned number = 0; number < 2000; number += 2) map.erase(key_for(number));
    for (std::thread& reader : readers) reader.join();
    for (long sum : sums) CHECK(sum == 1999L * 2000 / 2);
    CHECK(map.size() == 1000);
}

namespace {

/// "key: before -> after" lines, "-" for a side without the key.
using Changes = std::vector<std::string>;

std::string change_line(const std::string& key, const int* before, const int* after) {
    const auto side = [](const int* value) { return value ? std::to_string(*value) : "-"; };
    return key + ": " + side(before) + " -> " + side(after);
}

Changes diff_of(const PersistentMap<int>& before, const PersistentMap<int>& after) {
    Changes changes;
    PersistentMap<int>::diff(before, after,
                             [&](const std::string& key, const int* a, const int* b) {
                                 changes.push_back(change_line(key, a, b));
                             });
    return changes;
}

Changes model_diff(const Model& before, const Model& after) {
    Changes changes;
    std::map<std::string, std::pair<const int*, const int*>> keys;
    for (const auto& [key, value] : before) keys[key].first = &value;
    for (const auto& [key, value] : after) keys[key].second = &value;
    for (const auto& [key, sides] : keys)
        if (!sides.first || !sides.second || *sides.first != *sides.second)
            changes.push_back(change_line(key, sides.first, sides.second));
    return changes;
}

}  // namespace

TEST_CASE("PersistentMap::diff names every changed key in order", "[persistent_map]") {
    std::mt19937 random(7);
    PersistentMap<int> map;
    Model model;
    for (int i = 0; i < 2000; ++i) {
        map.insert_or_assign("k" + std::to_string(i), i);
        model["k" + std::to_string(i)] = i;
    }
    for (int round = 0; round < 200; ++round) {
        const PersistentMap<int> before = map;
        const Model model_before = model;
        const int changes = 1 + static_cast<int>(random() % 5);
        for (int c = 0; c < changes; ++c) {
            const std::string key = "k" + std::to_string(random() % 2400);
            switch (random() % 3) {
                case 0:
                    map.erase(key);
                    model.erase(key);
                    break;
                case 1:  // the same value again: not a change
                    if (const int* value = map.get(key)) map.insert_or_assign(key, *value);
                    break;
                default: {
                    const int value = static_cast<int>(random() % 100000);
                    map.insert_or_assign(key, value);
                    model[key] = value;
                }
            }
        }
        REQUIRE(diff_of(before, map) == model_diff(model_before, model));
        REQUIRE(diff_of(map, before) == model_diff(model, model_before));
    }
    // Unrelated maps with the same contents, and the empty cases.
    PersistentMap<int> rebuilt;
    for (const auto& [key, value] : model) rebuilt.insert_or_assign(key, value);
    CHECK(diff_of(map, rebuilt).empty());
    CHECK(diff_of(PersistentMap<int>{}, PersistentMap<int>{}).empty());
    CHECK(diff_of(PersistentMap<int>{}, map).size() == model.size());
    CHECK(diff_of(map, PersistentMap<int>{}).front() ==
          change_line(model.begin()->first, &model.begin()->second, nullptr));
}

TEST_CASE("PersistentMap::from_entries builds the tree inserts would", "[config][persistent_map]") {
    std::mt19937 random(7);
    for (const int count : {0, 1, 2, 3, 50, 2000}) {
        INFO(count);
        std::vector<std::pair<std::string, int>> entries;
        PersistentMap<int> inserted;
        Model model;
        for (int i = 0; i < count; ++i) {
            const std::string key = key_for(random() % (count + 1));  // some keys twice
            entries.emplace_back(key, i);
            inserted.insert_or_assign(key, i);
            model.insert_or_assign(key, i);
        }
        const auto built = PersistentMap<int>::from_entries(entries);
        std::vector<std::string> probes;
        for (int i = 0; i <= count + 1; ++i) probes.push_back(key_for(i));
        check_same(built, model, probes);
        // The same shape, node for node: == walks both trees in step.
        CHECK(built == inserted);
        int differences = 0;
        PersistentMap<int>::diff(
            built, inserted, [&](const std::string&, const int*, const int*) { ++differences; });
        CHECK(differences == 0);
        PersistentMap<int> changed = built;
        changed.insert_or_assign(key_for(count + 5), -1);
        CHECK(changed.size() == built.size() + 1);
    }
}
