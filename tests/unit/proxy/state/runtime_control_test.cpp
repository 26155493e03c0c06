#include "proxy/state/runtime_control.hpp"

#include <catch2/catch.hpp>

#include "config/load.hpp"

using namespace std::chrono_literals;
using tg::config::Color;
using tg::proxy::Clock;
using tg::proxy::Maintenance;
using tg::proxy::merge_runtime_states;
using tg::proxy::RuntimeControl;
using tg::proxy::RuntimeState;
using WallTime = std::chrono::system_clock::time_point;

namespace {

const WallTime wall_start{std::chrono::milliseconds(1'800'000'000'000)};
const Clock::time_point start{std::chrono::hours(1000)};

/// Applies a switch of `tenant` made now and returns the control for chaining.
void switch_now(RuntimeControl& control, const std::string& tenant, Color from, Color to,
                tg::config::Duration drain, WallTime wall, Clock::time_point now) {
    control.apply(control.with_release(tenant, from, to, drain, wall), wall, now);
}

}  // namespace

TEST_CASE("runtime versions only grow, even when the wall clock steps back",
          "[proxy][state][runtime]") {
    RuntimeControl control("r1", {});
    const auto first = control.with_maintenance(std::nullopt, {true, "m", 60}, wall_start);
    CHECK(first.version == 1'800'000'000'000u);
    CHECK(first.origin == "r1");
    control.apply(first, wall_start, start);
    const auto earlier = control.with_maintenance(std::nullopt, {false, "", 0}, wall_start - 1h);
    CHECK(earlier.version == first.version + 1);
}

TEST_CASE("tenant maintenance is stamped with when it was set, off included",
          "[proxy][state][runtime]") {
    RuntimeControl control("r1", {});
    control.apply(control.with_maintenance("acme", {true, "<b>", 600}, wall_start), wall_start,
                  start);
    REQUIRE(control.state().tenant_maintenance.contains("acme"));
    const auto on = control.state().tenant_maintenance.at("acme");
    CHECK(on.same_setting(Maintenance{true, "<b>", 600}));
    CHECK(on.changed_ms == static_cast<std::int64_t>(control.state().version));
    CHECK_FALSE(control.state().global_maintenance.enabled);
    control.apply(control.with_maintenance("acme", {}, wall_start + 1s), wall_start + 1s,
                  start + 1s);
    const auto& off = control.state().tenant_maintenance.at("acme");
    CHECK_FALSE(off.enabled);
    CHECK(off.changed_ms > on.changed_ms);
}

TEST_CASE("a switch drains the colour it left until its deadline", "[proxy][state][runtime]") {
    RuntimeControl control("r1", {});
    switch_now(control, "acme", Color::blue, Color::green, 120s, wall_start, start);
    const auto& release = control.state().releases.at("acme");
    CHECK(release.active == Color::green);
    CHECK(release.previous == Color::blue);
    CHECK(release.drain_timeout_ms == 120'000);
    const auto& drains = control.runtime()->drains;
    REQUIRE(drains.contains("acme"));
    CHECK(drains.at("acme").color == Color::blue);
    CHECK(drains.at("acme").deadline == start + 120s);
    CHECK(drains.at("acme").wall_deadline == wall_start + 120s);

    control.end_drain("acme");
    CHECK(control.runtime()->drains.empty());
    CHECK(control.state().releases.at("acme").active == Color::green);  // the switch stays
}

TEST_CASE("a switch during a drain supersedes it", "[proxy][state][runtime]") {
    RuntimeControl control("r1", {});
    switch_now(control, "acme", Color::blue, Color::green, 120s, wall_start, start);
    switch_now(control, "acme", Color::green, Color::blue, 10s, wall_start + 5s, start + 5s);
    const auto& drain = control.runtime()->drains.at("acme");
    CHECK(drain.color == Color::green);
    CHECK(drain.deadline == start + 15s);
    CHECK(control.runtime()->drains.size() == 1);
}

TEST_CASE("a state from another replica drains on this one's clock to the same instant",
          "[proxy][state][runtime]") {
    RuntimeControl other("r2", {});
    const auto remote = other.with_release("acme", Color::blue, Color::green, 60s, wall_start);
    RuntimeControl here("r1", {});
    // Reaches this replica 200 ms after the switch.
    here.apply(remote, wall_start + 200ms, start);
    CHECK(here.runtime()->drains.at("acme").deadline == start + 59800ms);
    // Reaches a replica after its deadline (Redis was away): what is left moves at once.
    RuntimeControl late("r3", {});
    late.apply(remote, wall_start + 10min, start);
    CHECK(late.runtime()->drains.at("acme").deadline == start);
    // The same state again starts no second drain.
    here.end_drain("acme");
    here.apply(remote, wall_start + 1s, start + 1s);
    CHECK(here.runtime()->drains.empty());
}

TEST_CASE("a reload drops the state of tenants it removed", "[proxy][state][runtime]") {
    RuntimeControl control("r1", {});
    control.apply(control.with_maintenance("gone", {true, "", 1}, wall_start), wall_start, start);
    control.apply(control.with_maintenance("kept", {true, "", 1}, wall_start), wall_start, start);
    switch_now(control, "acme", Color::blue, Color::green, 1s, wall_start, start);
    switch_now(control, "demoted", Color::blue, Color::green, 1s, wall_start, start);
    const auto loaded = tg::config::load_text(R"(
listeners: [{ name: http, address: "127.0.0.1:0" }]
pools:
  b: { web: ["127.0.0.1:1"] }
  g: { web: ["127.0.0.1:2"] }
tenants:
  kept: { hosts: [kept.example], pool: b }
  demoted: { hosts: [demoted.example], pool: b }
  acme: { hosts: [acme.example], release: { blue: b, green: g, active: blue } }
)",
                                              "t.yaml", "");
    REQUIRE(loaded.snapshot);
    const auto pruned = control.pruned_for(*loaded.snapshot, wall_start + 1s);
    REQUIRE(pruned);
    CHECK(pruned->tenant_maintenance.size() == 1);
    CHECK(pruned->tenant_maintenance.contains("kept"));
    CHECK(pruned->releases.size() == 1);
    CHECK(pruned->releases.contains("acme"));
    CHECK(pruned->version > control.state().version);
    control.apply(*pruned, wall_start + 1s, start + 1s);
    CHECK_FALSE(control.runtime()->drains.contains("demoted"));
    CHECK_FALSE(control.pruned_for(*loaded.snapshot, wall_start + 2s));
}

TEST_CASE("a runtime tenant is added, replaced and removed with what belongs to it",
          "[proxy][state][runtime]") {
    RuntimeControl control("r1", {});
    const std::string first = R"({"hosts":["a.com"],"pool":"p"})";
    control.apply(control.with_tenant("globex", first, wall_start), wall_start, start);
    CHECK(control.state().tenants.at("globex").definition == first);
    CHECK(control.state().tenants.at("globex").changed_ms ==
          static_cast<std::int64_t>(control.state().version));
    control.apply(control.with_maintenance("globex", {true, "m", 60}, wall_start), wall_start,
                  start);
    switch_now(control, "globex", Color::blue, Color::green, 10s, wall_start, start);
    REQUIRE(control.runtime()->drains.contains("globex"));

    const auto removed = control.with_tenant("globex", std::nullopt, wall_start);
    CHECK(removed.version > control.state().version);
    // Kept as tombstones stamped with the removal, so that nothing older comes back.
    REQUIRE(removed.tenants.contains("globex"));
    CHECK(removed.tenants.at("globex").removed());
    CHECK(removed.tenants.at("globex").changed_ms == static_cast<std::int64_t>(removed.version));
    REQUIRE(removed.tenant_maintenance.contains("globex"));
    CHECK_FALSE(removed.tenant_maintenance.at("globex").enabled);
    CHECK(removed.tenant_maintenance.at("globex").changed_ms ==
          static_cast<std::int64_t>(removed.version));
    CHECK(removed.releases.empty());
}

TEST_CASE("a removed tenant drains every colour until it is back or drained",
          "[proxy][state][runtime]") {
    RuntimeControl control("r1", {});
    control.drain_tenants({{"globex", 30s}}, {}, wall_start, start);
    const auto& drain = control.runtime()->drains.at("globex");
    CHECK(drain.whole_tenant);
    CHECK(drain.deadline == start + 30s);
    CHECK(drain.wall_deadline == wall_start + 30s);

    // Release changes of other tenants leave it alone.
    switch_now(control, "acme", Color::blue, Color::green, 5s, wall_start, start);
    CHECK(control.runtime()->drains.contains("globex"));
    CHECK(control.runtime()->drains.contains("acme"));

    // Added again under the same name: its new connections are not cut.
    control.drain_tenants({}, {"globex"}, wall_start, start);
    CHECK_FALSE(control.runtime()->drains.contains("globex"));
    CHECK(control.runtime()->drains.contains("acme"));
    // Nothing to do: nothing published.
    const auto unchanged = control.runtime();
    control.drain_tenants({}, {}, wall_start, start);
    CHECK(control.runtime() == unchanged);
}

TEST_CASE("states changed on two replicas apart are merged entry by entry",
          "[proxy][state][runtime]") {
    RuntimeControl a("a", {});
    RuntimeControl b("b", {});
    // While Redis is away: a switches acme, b turns globex's maintenance on, both touch the
    // global maintenance (b later).
    switch_now(a, "acme", Color::blue, Color::green, 0s, wall_start, start);
    a.apply(a.with_maintenance(std::nullopt, {true, "from a", 60}, wall_start + 1s),
            wall_start + 1s, start + 1s);
    b.apply(b.with_maintenance("globex", {true, "b", 30}, wall_start + 2s), wall_start + 2s,
            start + 2s);
    b.apply(b.with_maintenance(std::nullopt, {false, "", 0}, wall_start + 3s), wall_start + 3s,
            start + 3s);

    const auto ab = tg::proxy::merge_runtime_states(a.state(), b.state());
    const auto ba = tg::proxy::merge_runtime_states(b.state(), a.state());
    CHECK(ab == ba);  // the same on both replicas
    CHECK(ab.releases.at("acme").active == Color::green);
    CHECK(ab.tenant_maintenance.at("globex").enabled);
    CHECK_FALSE(ab.global_maintenance.enabled);  // b's was the later setting
    CHECK(ab.version == b.state().version);

    // Turning maintenance off is remembered, so an older "on" cannot come back.
    b.apply(b.with_maintenance("globex", {}, wall_start + 4s), wall_start + 4s, start + 4s);
    REQUIRE(b.state().tenant_maintenance.contains("globex"));
    const auto later = tg::proxy::merge_runtime_states(b.state(), ab);
    CHECK_FALSE(later.tenant_maintenance.at("globex").enabled);
}

TEST_CASE("runtime tenants added on two replicas apart are both kept", "[proxy][state][runtime]") {
    RuntimeControl a("a", {});
    RuntimeControl b("b", {});
    const std::string globex = R"({"hosts":["erp.globex.com"],"pool":"p"})";
    const std::string hooli = R"({"hosts":["erp.hooli.com"],"pool":"p"})";
    a.apply(a.with_tenant("globex", globex, wall_start), wall_start, start);
    b.apply(b.with_tenant("hooli", hooli, wall_start + 1s), wall_start + 1s, start + 1s);

    const auto ab = tg::proxy::merge_runtime_states(a.state(), b.state());
    const auto ba = tg::proxy::merge_runtime_states(b.state(), a.state());
    CHECK(ab == ba);
    REQUIRE(ab.tenants.size() == 2);
    CHECK(ab.tenants.at("globex").definition == globex);
    CHECK(ab.tenants.at("hooli").definition == hooli);
    // Each side has news for the other: neither state has every entry.
    CHECK_FALSE(ab.same_entries(a.state()));
    CHECK_FALSE(ab.same_entries(b.state()));

    // The same name set on both at the same millisecond: the larger definition, everywhere.
    RuntimeControl c("c", {});
    c.apply(c.with_tenant("hooli", globex, wall_start + 1s), wall_start + 1s, start + 1s);
    const auto bc = tg::proxy::merge_runtime_states(b.state(), c.state());
    CHECK(bc == tg::proxy::merge_runtime_states(c.state(), b.state()));
    CHECK(bc.tenants.at("hooli").definition == std::max(globex, hooli));
}

TEST_CASE("a runtime tenant's removal is not undone by an older add", "[proxy][state][runtime]") {
    RuntimeControl a("a", {});
    RuntimeControl b("b", {});
    const std::string first = R"({"hosts":["erp.globex.com"],"pool":"p"})";
    const std::string second = R"({"hosts":["erp.globex.com","globex.example"],"pool":"p"})";
    a.apply(a.with_tenant("globex", first, wall_start), wall_start, start);
    b.apply(merge_runtime_states(b.state(), a.state()), wall_start, start);
    a.apply(a.with_maintenance("globex", {true, "m", 60}, wall_start + 1s), wall_start + 1s,
            start + 1s);
    // Apart: b replaces the definition, then a (later) removes the tenant.
    b.apply(b.with_tenant("globex", second, wall_start + 2s), wall_start + 2s, start + 2s);
    a.apply(a.with_tenant("globex", std::nullopt, wall_start + 3s), wall_start + 3s, start + 3s);

    for (const auto& merged :
         {merge_runtime_states(a.state(), b.state()), merge_runtime_states(b.state(), a.state())}) {
        REQUIRE(merged.tenants.contains("globex"));
        CHECK(merged.tenants.at("globex").removed());
        CHECK_FALSE(merged.tenant_maintenance.at("globex").enabled);
    }
    // Added again later: the newer definition wins over the tombstone.
    b.apply(merge_runtime_states(b.state(), a.state()), wall_start + 3s, start + 3s);
    b.apply(b.with_tenant("globex", first, wall_start + 4s), wall_start + 4s, start + 4s);
    const auto again = merge_runtime_states(a.state(), b.state());
    CHECK(again.tenants.at("globex").definition == first);
}

TEST_CASE("a change holds the entries set since, and applied gives the state back",
          "[proxy][state][runtime]") {
    RuntimeControl control("a", {});
    const std::string globex = R"({"hosts":["erp.globex.com"],"pool":"p"})";
    control.apply(control.with_tenant("globex", globex, wall_start), wall_start, start);
    control.apply(control.with_tenant("hooli", globex, wall_start + 1s), wall_start + 1s,
                  start + 1s);
    switch_now(control, "acme", Color::blue, Color::green, 0s, wall_start + 2s, start + 2s);
    const RuntimeState before = control.state();

    control.apply(control.with_tenant("hooli", std::nullopt, wall_start + 3s), wall_start + 3s,
                  start + 3s);
    control.apply(control.with_maintenance("initech", {true, "soon", 60}, wall_start + 4s),
                  wall_start + 4s, start + 4s);
    const RuntimeState after = control.state();

    bool dropped = false;
    const RuntimeState change = tg::proxy::changed_entries(before, after, dropped);
    CHECK_FALSE(dropped);
    CHECK(change.version == after.version);
    CHECK(change.origin == after.origin);
    REQUIRE(change.tenants.size() == 1);
    CHECK(change.tenants.at("hooli").removed());
    CHECK(change.releases.empty());
    CHECK(change.tenant_maintenance.size() == 1);
    RuntimeState rebuilt = before;
    tg::proxy::apply_changed_entries(rebuilt, change);
    CHECK(rebuilt == after);

    // A state that lost an entry says so: a change can only set entries.
    RuntimeState fewer = after;
    fewer.releases.clear();
    CHECK(tg::proxy::changed_entries(after, fewer, dropped).releases.empty());
    CHECK(dropped);
}
