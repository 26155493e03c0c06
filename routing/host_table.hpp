#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/snapshot.hpp"
#include "routing/chunked_vector.hpp"
#include "routing/sharded_map.hpp"

/// Host -> tenant (SPEC §3 step 1): exact hosts, then the longest wildcard, then templates.
namespace tg::routing {

/// The tenant a host belongs to.
struct TenantMatch {
    std::string_view name;  ///< a named tenant's name, or for a template the label in the host
    const config::TenantPolicy* policy;
    bool from_template;
    /// The named tenant's slot (HostTable::tenant_at), or the template's position in
    /// `tenant_templates`, so per-tenant state is found by index, not by name.
    std::size_t index;
};

/// Index of the served tenants' hosts, read-only once published (safe to share between
/// threads). Named tenants can be put and removed one at a time: a copy shares everything but
/// the shards and slot chunks a change touches, so at 20,000 tenants one change costs
/// microseconds, not a rebuild. Each named tenant keeps a slot while it is served (replacing
/// its definition keeps it); per-tenant tables elsewhere are indexed by slot.
class HostTable {
  public:
    /// Matches nothing.
    HostTable() = default;
    /// Indexes `snapshot`'s tenants (slots in name order) and templates; the templates are
    /// viewed in `snapshot`, which must outlive the table (see index_templates).
    explicit HostTable(const config::Snapshot& snapshot);

    /// Serves `tenant`, replacing the named tenant of the same name (whose slot it keeps). Its
    /// hosts must not be another tenant's (see owner): the caller checks.
    void put(std::shared_ptr<const config::Tenant> tenant);
    /// Stops serving the named tenant `name` (no-op when not served); its slot is reused.
    void remove(std::string_view name);
    /// Indexes `templates`, which must outlive the table, replacing any indexed before.
    void index_templates(const std::vector<config::TenantTemplate>& templates);

    /// The tenant for a host normalised by `normalize_host`. An exact host beats a wildcard, a
    /// longer wildcard beats a shorter one ("*.eu.acme.com" over "*.acme.com"), and a template
    /// applies last. "*.acme.com" covers one or more labels before ".acme.com", not "acme.com".
    /// A template's name is a view into `normalized_host`; a template label equal to a named
    /// tenant's name does not match. Costs at most one hash probe per dot of the host plus two,
    /// whatever the number of tenants.
    [[nodiscard]] std::optional<TenantMatch> match(std::string_view normalized_host) const;

    /// The named tenant that claims `host` exactly as a config writes it ("erp.acme.com", or
    /// "*.acme.com" for a wildcard), if any: a new tenant's hosts are checked against what is
    /// served with one probe each.
    [[nodiscard]] std::optional<std::string_view> owner(std::string_view host) const;

    /// Slots run from 0 to slot_count() - 1; a free one holds no tenant.
    [[nodiscard]] std::size_t slot_count() const { return slots_.size(); }
    /// The named tenant in `slot`, or null for a free slot.
    [[nodiscard]] const config::Tenant* tenant_at(std::size_t slot) const {
        return slots_[slot].get();
    }
    /// The slot of the named tenant `name`, if it is served.
    [[nodiscard]] std::optional<std::size_t> slot_of(std::string_view name) const;
    /// The slots' storage, to tell which chunks of slots changed between two tables.
    [[nodiscard]] const ChunkedVector<std::shared_ptr<const config::Tenant>>& slots() const {
        return slots_;
    }
    /// Pools that named tenants send new requests to by their config (a release tenant's
    /// configured `active` colour), with how many tenants do: what a generation serves is
    /// found from these and the switched colours, without a pass over every tenant.
    [[nodiscard]] const std::map<std::string, std::size_t, std::less<>>& pool_users() const {
        return pool_users_;
    }

  private:
    struct Entry {
        std::string_view name;  ///< views into the tenant, which slots_ keeps
        const config::TenantPolicy* policy;
        std::size_t index;
    };

    ShardedMap<Entry> exact_;
    ShardedMap<Entry> wildcard_;     ///< keyed by the suffix after '*', e.g. ".acme.com"
    ShardedMap<std::size_t> named_;  ///< slot by name; names a template label may not take over
    ChunkedVector<std::shared_ptr<const config::Tenant>> slots_;
    std::vector<std::size_t> free_slots_;
    std::map<std::string, std::size_t, std::less<>> pool_users_;
    std::unordered_map<std::string_view, Entry> templates_;  ///< by suffix; no name
};

}  // namespace tg::routing
