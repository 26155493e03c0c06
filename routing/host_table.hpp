#pragma once

#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

#include "config/snapshot.hpp"

/// Host -> tenant (SPEC §3 step 1): exact hosts, then the longest wildcard, then templates.
namespace tg::routing {

/// The tenant a host belongs to.
struct TenantMatch {
    std::string_view name;  ///< a named tenant's name, or for a template the label in the host
    const config::TenantPolicy* policy;
    bool from_template;
    /// Position of the named tenant in `Snapshot::tenants` (or of the template in
    /// `tenant_templates`), so per-tenant state is found by index, not by name.
    std::size_t index;
};

/// Index of a snapshot's tenant hosts, built once per config generation and then read-only
/// (safe to share between threads). It holds views into the snapshot.
class HostTable {
  public:
    /// Indexes `snapshot`, which must outlive the table.
    explicit HostTable(const config::Snapshot& snapshot);

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

  private:
    struct Entry {
        std::string_view name;
        const config::TenantPolicy* policy;
        std::size_t index;
    };
    /// Keys view into the snapshot, so a lookup by string_view builds no std::string.
    using Index = std::unordered_map<std::string_view, Entry>;

    Index exact_;
    Index wildcard_;  ///< keyed by the suffix after '*', e.g. ".acme.com"
    std::unordered_map<std::string_view, Entry> templates_;  ///< by suffix; no name
    std::unordered_set<std::string_view> named_;  ///< names a template label may not take over
};

}  // namespace tg::routing
