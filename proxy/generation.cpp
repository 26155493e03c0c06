#include "proxy/generation.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <set>

#include "proxy/upstream/health_board.hpp"
#include "routing/balancer.hpp"
#include "routing/release.hpp"

namespace tg::proxy {
namespace {

std::string endpoint_label(const tcp::endpoint& address) {
    // Appended piece by piece: `"[" + text` trips GCC 12's -Wrestrict false positive.
    const auto ip = address.address();
    std::string label;
    if (ip.is_v6()) label += '[';
    label += ip.to_string();
    if (ip.is_v6()) label += ']';
    label += ':';
    label += std::to_string(address.port());
    return label;
}

void add_endpoints(const std::vector<config::HostPort>& configured, const DnsAnswers& dns,
                   std::vector<ResolvedEndpoint>& out) {
    for (const auto& host_port : configured) {
        error_code ec;
        const auto literal = asio::ip::make_address(host_port.host, ec);
        std::vector<asio::ip::address> addresses;
        if (!ec) {
            addresses.push_back(literal);
        } else if (auto found = dns.find(host_port.host); found != dns.end()) {
            addresses = found->second;
        }
        for (const auto& ip : addresses) {
            ResolvedEndpoint endpoint;
            endpoint.address = tcp::endpoint(ip, host_port.port);
            endpoint.label = endpoint_label(endpoint.address);
            endpoint.id = routing::stable_hash(endpoint.label);
            const bool duplicate = std::any_of(out.begin(), out.end(), [&](const auto& e) {
                return e.address == endpoint.address;
            });
            if (!duplicate) out.push_back(std::move(endpoint));
        }
    }
}

std::atomic<std::uint64_t> serials{0};

bool is_ip_literal(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

}  // namespace

Generation::Generation(std::shared_ptr<const config::Snapshot> snapshot, routing::HostTable hosts,
                       std::uint64_t number, const DnsAnswers& dns, TlsStores tls,
                       const Generation* previous, Limiter& limiter,
                       std::shared_ptr<const Runtime> runtime)
    : snapshot_(std::move(snapshot)),
      number_(number),
      serial_(++serials),
      runtime_(std::move(runtime)),
      hosts_(std::move(hosts)),
      tls_(std::move(tls)),
      limiter_(&limiter),
      health_(std::make_unique<HealthBoard>()) {
    for (const auto& [name, pool] : snapshot_->pools) {
        ResolvedPool resolved;
        resolved.config = &pool;
        add_endpoints(pool.web, dns, resolved.web);
        add_endpoints(pool.longpolling, dns, resolved.longpolling);
        resolved.health = health_->add_pool(name, resolved);
        pools_.emplace(name, std::move(resolved));
    }
    if (previous != nullptr) health_->carry_over(previous->health());
    take_budgets(previous);
    apply_runtime();
}

void Generation::take_budgets(const Generation* previous) {
    // A budget belongs to a tenant's name (Limiter), so a slot whose chunk is the previous
    // generation's keeps its budgets as they were; only changed chunks are looked at.
    const std::size_t slots = hosts_.slot_count();
    budgets_.resize(slots);
    const auto* before = previous ? &previous->hosts_ : nullptr;
    for (std::size_t chunk = 0; chunk < hosts_.slots().chunk_count(); ++chunk) {
        if (before && hosts_.slots().shares_chunk(before->slots(), chunk) &&
            chunk < previous->budgets_.chunk_count()) {
            budgets_.share_chunk(previous->budgets_, chunk);
            continue;
        }
        const std::size_t end = std::min(slots, (chunk + 1) * budgets_.chunk_size);
        for (std::size_t slot = chunk * budgets_.chunk_size; slot < end; ++slot) {
            const config::Tenant* tenant = hosts_.tenant_at(slot);
            if (!tenant) continue;
            const config::Tenant* was =
                before && slot < before->slot_count() ? before->tenant_at(slot) : nullptr;
            budgets_.set(slot, was && was->name == tenant->name
                                   ? previous->budgets_[slot]
                                   : limiter_->budget_for(tenant->name));
        }
    }
}

void Generation::apply_runtime() {
    // What the runtime state changes is looked up by name: a pass over the releases and
    // maintenances set, not over every tenant.
    const RuntimeState& state = runtime_->state;
    colors_.assign(hosts_.slot_count(), std::nullopt);
    maintenance_.assign(hosts_.slot_count(), nullptr);
    auto pool_users = hosts_.pool_users();
    for (const auto& [name, release] : state.releases) {
        const auto slot = hosts_.slot_of(name);
        if (!slot) continue;
        const auto& policy = hosts_.tenant_at(*slot)->policy;
        if (!policy.release) continue;
        colors_[*slot] = release.active;
        const auto& configured = routing::active_pool(policy, std::nullopt);
        const auto& active = routing::active_pool(policy, release.active);
        if (active == configured) continue;
        const auto users = pool_users.find(configured);
        assert(users != pool_users.end() && "HostTable counts each tenant's configured pool");
        if (--users->second == 0) pool_users.erase(users);
        ++pool_users[active];
    }
    for (const auto& [name, maintenance] : state.tenant_maintenance) {
        const auto slot = hosts_.slot_of(name);
        if (slot && maintenance.enabled) maintenance_[*slot] = &maintenance;
    }
    std::set<std::string_view> serving_pools;
    for (const auto& [pool, users] : pool_users) serving_pools.insert(pool);
    for (const auto& tenant_template : snapshot_->tenant_templates)
        serving_pools.insert(tenant_template.policy.pool);
    for (const auto name : serving_pools) {
        const auto found = pools_.find(name);
        if (found == pools_.end()) continue;
        for (const auto* list : {&found->second.web, &found->second.longpolling})
            for (const auto& endpoint : *list) serving_.push_back(endpoint.address);
    }
    std::sort(serving_.begin(), serving_.end());
    serving_.erase(std::unique(serving_.begin(), serving_.end()), serving_.end());
}

Generation::~Generation() = default;

const ResolvedPool* Generation::pool(std::string_view name) const {
    const auto found = pools_.find(name);
    return found == pools_.end() ? nullptr : &found->second;
}

bool Generation::serves_endpoint(const tcp::endpoint& address) const {
    return std::binary_search(serving_.begin(), serving_.end(), address);
}

const Maintenance* Generation::maintenance(const routing::TenantMatch& tenant) const {
    const RuntimeState& state = runtime_->state;
    if (state.global_maintenance.enabled) return &state.global_maintenance;
    // Per-tenant maintenance is for named tenants (the admin API refuses others); a template
    // tenant follows the global one.
    return tenant.from_template ? nullptr : maintenance_[tenant.index];
}

config::Color Generation::active_color(const routing::TenantMatch& tenant) const {
    const auto& release = tenant.policy->release;
    if (!release || tenant.from_template) return config::Color::blue;
    return colors_[tenant.index].value_or(release->active);
}

const std::string& Generation::active_pool(const routing::TenantMatch& tenant) const {
    return routing::active_pool(*tenant.policy,
                                tenant.from_template ? std::nullopt : colors_[tenant.index]);
}

std::vector<std::string> names_to_resolve(const config::Snapshot& snapshot) {
    std::vector<std::string> names;
    for (const auto& [_, pool] : snapshot.pools) {
        for (const auto* list : {&pool.web, &pool.longpolling})
            for (const auto& host_port : *list)
                if (!is_ip_literal(host_port.host)) names.push_back(host_port.host);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

}  // namespace tg::proxy
