#include "proxy/state/runtime_state_json.hpp"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <limits>
#include <type_traits>

#include <boost/json.hpp>

#include "routing/release.hpp"

namespace tg::proxy {
namespace {

namespace json = boost::json;

std::string child_path(std::string_view parent, std::string_view key) {
    std::string path(parent);
    if (!path.empty()) path.push_back('.');
    path.append(key);
    return path;
}

/// Reads the shape to_json writes, refusing anything else: a state file edited by hand, or a
/// Redis value written by another version, must not be half-understood and then saved back.
/// Each check records the first problem with its key path and returns false.
class StrictReader {
  public:
    explicit StrictReader(std::string& error) : error_(error) {}

    bool fail(std::string_view path, std::string_view what) {
        error_ = path.empty() ? std::string(what) : std::string(path) + ": " + std::string(what);
        return false;
    }

    /// The object at `path`, its keys all among `known` (any key when `known` is empty: a map
    /// by tenant name); nullptr (and the error) otherwise.
    const json::object* object(const json::value& value, std::string_view path,
                               std::initializer_list<std::string_view> known) {
        const json::object* object = value.if_object();
        if (!object) {
            fail(path, "expected an object");
            return nullptr;
        }
        if (known.size() == 0) return object;
        for (const auto& entry : *object) {
            bool found = false;
            for (const std::string_view key : known) found = found || entry.key() == key;
            if (!found) {
                fail(child_path(path, entry.key()), "unknown key");
                return nullptr;
            }
        }
        return object;
    }

    /// The value of a key to_json always writes.
    const json::value* require(const json::object& object, std::string_view path,
                               std::string_view key) {
        const json::value* value = object.if_contains(key);
        if (!value) fail(child_path(path, key), "missing");
        return value;
    }

    bool read(const json::value& value, std::string_view path, bool& out) {
        const bool* found = value.if_bool();
        if (!found) return fail(path, "expected true or false");
        out = *found;
        return true;
    }

    bool read(const json::value& value, std::string_view path, std::string& out) {
        const json::string* found = value.if_string();
        if (!found) return fail(path, "expected a string");
        out.assign(found->data(), found->size());
        return true;
    }

    /// Counts, durations and times are never negative here, and never fractional.
    bool read(const json::value& value, std::string_view path, std::uint64_t& out) {
        if (const std::int64_t* found = value.if_int64(); found && *found >= 0) {
            out = static_cast<std::uint64_t>(*found);
            return true;
        }
        if (const std::uint64_t* found = value.if_uint64()) {
            out = *found;
            return true;
        }
        return fail(path, "expected a non-negative integer");
    }

    bool read(const json::value& value, std::string_view path, std::int64_t& out) {
        std::uint64_t wide = 0;
        if (!read(value, path, wide)) return false;
        if (wide > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return fail(path, "too large");
        out = static_cast<std::int64_t>(wide);
        return true;
    }

    bool read(const json::value& value, std::string_view path, config::Color& out) {
        const json::string* text = value.if_string();
        const auto color = text ? routing::parse_color(*text) : std::nullopt;
        if (!color) return fail(path, "expected \"blue\" or \"green\"");
        out = *color;
        return true;
    }

    /// Reads a key to_json always writes into `out`.
    template <class T>
    bool read_key(const json::object& object, std::string_view path, std::string_view key, T& out) {
        const json::value* value = require(object, path, key);
        return value && read(*value, child_path(path, key), out);
    }

  private:
    std::string& error_;
};

bool read_maintenance(StrictReader& reader, const json::value& value, std::string_view path,
                      Maintenance& out) {
    const json::object* object =
        reader.object(value, path, {"enabled", "message", "retry_after", "changed_ms"});
    if (!object || !reader.read_key(*object, path, "enabled", out.enabled) ||
        !reader.read_key(*object, path, "message", out.message) ||
        !reader.read_key(*object, path, "retry_after", out.retry_after))
        return false;
    // Written since changes are merged entry by entry; a state without it is older than any.
    const json::value* changed = object->if_contains("changed_ms");
    return !changed || reader.read(*changed, child_path(path, "changed_ms"), out.changed_ms);
}

bool read_release(StrictReader& reader, const json::value& value, std::string_view path,
                  ReleaseState& out) {
    const json::object* object =
        reader.object(value, path, {"active", "previous", "switched_at_ms", "drain_timeout_ms"});
    if (!object || !reader.read_key(*object, path, "active", out.active) ||
        !reader.read_key(*object, path, "switched_at_ms", out.switched_at_ms) ||
        !reader.read_key(*object, path, "drain_timeout_ms", out.drain_timeout_ms))
        return false;
    // The first switch of a tenant left no colour: the contract allows null or no key.
    const json::value* previous = object->if_contains("previous");
    if (!previous || previous->is_null()) {
        out.previous.reset();
        return true;
    }
    config::Color color{};
    if (!reader.read(*previous, child_path(path, "previous"), color)) return false;
    out.previous = color;
    return true;
}

/// A runtime tenant: its definition (any object here, its keys are the config schema's business,
/// checked at every merge; kept as compact JSON text) or null once removed, and when.
bool read_runtime_tenant(StrictReader& reader, const json::value& value, std::string_view path,
                         RuntimeTenant& out) {
    const json::object* object = reader.object(value, path, {"definition", "changed_ms"});
    if (!object) return false;
    const json::value* definition = reader.require(*object, path, "definition");
    if (!definition) return false;
    if (!definition->is_null()) {
        if (!reader.object(*definition, child_path(path, "definition"), {})) return false;
        out.definition = json::serialize(*definition);
    }
    return reader.read_key(*object, path, "changed_ms", out.changed_ms);
}

/// Reads a map of tenant name to T, e.g. "releases": {"acme": {...}}.
template <class Map, class ReadOne>
bool read_tenants(StrictReader& reader, const json::object& state, std::string_view key, Map& out,
                  ReadOne read_one) {
    const json::value* value = state.if_contains(key);
    if (!value) return true;  // an older or hand-written file without the key: none
    const json::object* tenants = reader.object(*value, key, {});
    if (!tenants) return false;
    std::vector<std::pair<std::string, typename Map::mapped_type>> entries;
    entries.reserve(tenants->size());
    for (const auto& [name, item] : *tenants) {
        typename Map::mapped_type parsed;
        if (!read_one(reader, item, child_path(key, name), parsed)) return false;
        entries.emplace_back(std::string(name), std::move(parsed));
    }
    if constexpr (std::is_same_v<Map, RuntimeTenants>)
        out = RuntimeTenants::from_entries(std::move(entries));
    else
        out.insert(std::make_move_iterator(entries.begin()),
                   std::make_move_iterator(entries.end()));
    return true;
}

/// Appends `value` as a JSON string. Tenant names need no escaping (letters, digits, "_", "-"
/// and "."): they are copied as they are, and anything else goes through the serializer.
void append_json_string(std::string& text, std::string_view value) {
    const bool plain = std::all_of(value.begin(), value.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.';
    });
    if (!plain) {
        text += json::serialize(json::string_view(value));
        return;
    }
    text += '"';
    text += value;
    text += '"';
}

/// A runtime tenant's entry: its definition spliced in as the compact JSON it is stored as.
void append_tenant_entry(std::string& text, const RuntimeTenant& tenant) {
    text += R"({"definition":)";
    text += tenant.removed() ? std::string_view("null") : std::string_view(tenant.definition);
    text += R"(,"changed_ms":)";
    text += std::to_string(tenant.changed_ms);
    text += '}';
}

/// The Redis hash's field names: a group of the JSON form and a tenant's name.
constexpr char field_separator = ':';

}  // namespace

json::value to_json(const Maintenance& maintenance) {
    return json::object{{"enabled", maintenance.enabled},
                        {"message", maintenance.message},
                        {"retry_after", maintenance.retry_after},
                        {"changed_ms", maintenance.changed_ms}};
}

json::value to_json(const ReleaseState& release) {
    json::value previous = nullptr;
    if (release.previous) previous = json::string(routing::color_name(*release.previous));
    return json::object{{"active", routing::color_name(release.active)},
                        {"previous", std::move(previous)},
                        {"switched_at_ms", release.switched_at_ms},
                        {"drain_timeout_ms", release.drain_timeout_ms}};
}

std::string runtime_state_text(const RuntimeState& state) {
    json::object tenant_maintenance;
    for (const auto& [name, maintenance] : state.tenant_maintenance)
        tenant_maintenance.emplace(name, to_json(maintenance));
    json::object releases;
    for (const auto& [name, release] : state.releases) releases.emplace(name, to_json(release));
    const json::object head{{"version", state.version},
                            {"origin", state.origin},
                            {"global_maintenance", to_json(state.global_maintenance)},
                            {"tenant_maintenance", std::move(tenant_maintenance)},
                            {"releases", std::move(releases)}};
    // The tenants' definitions are stored as compact JSON already (written by
    // runtime_state_from_json or the admin API from parsed JSON): spliced in as they are, a
    // save of 20,000 tenants is a copy, not 20,000 parses.
    std::string text = json::serialize(head);
    text.pop_back();  // the closing '}'
    // Sized once: growing a 3 MB text by doubling would copy it twice more.
    constexpr std::size_t per_tenant =
        sizeof(R"("":{"definition":,"changed_ms":-9223372036854775808},)");
    std::size_t size = text.size() + 16;
    for (const auto& [name, tenant] : state.tenants)
        size += name.size() + tenant.definition.size() + per_tenant;
    text.reserve(size);
    text += R"(,"tenants":{)";
    bool first = true;
    for (const auto& [name, tenant] : state.tenants) {
        if (!first) text += ',';
        first = false;
        append_json_string(text, name);
        text += ':';
        append_tenant_entry(text, tenant);
    }
    text += "}}";
    return text;
}

std::optional<RuntimeState> runtime_state_from_json(std::string_view text, std::string& error) {
    boost::system::error_code ec;
    json::stream_parser parser;
    const std::size_t consumed = parser.write(text.data(), text.size(), ec);
    if (!ec) parser.finish(ec);
    if (ec) {
        error = "invalid JSON at byte " + std::to_string(consumed) + ": " + ec.message();
        return std::nullopt;
    }
    const json::value document = parser.release();

    if (!document.is_object()) {
        error = "expected a JSON object";
        return std::nullopt;
    }
    StrictReader reader(error);
    const json::object* object = reader.object(
        document, "",
        {"version", "origin", "global_maintenance", "tenant_maintenance", "releases", "tenants"});
    if (!object) return std::nullopt;
    // Every top-level key may be absent: it then keeps RuntimeState's default (a fresh start).
    RuntimeState state;
    if (const auto* v = object->if_contains("version");
        v && !reader.read(*v, "version", state.version))
        return std::nullopt;
    if (const auto* v = object->if_contains("origin");
        v && !reader.read(*v, "origin", state.origin))
        return std::nullopt;
    if (const auto* v = object->if_contains("global_maintenance");
        v && !read_maintenance(reader, *v, "global_maintenance", state.global_maintenance))
        return std::nullopt;
    if (!read_tenants(reader, *object, "tenant_maintenance", state.tenant_maintenance,
                      read_maintenance) ||
        !read_tenants(reader, *object, "releases", state.releases, read_release) ||
        !read_tenants(reader, *object, "tenants", state.tenants, read_runtime_tenant))
        return std::nullopt;
    return state;
}

std::vector<std::string> runtime_state_fields(const RuntimeState& state) {
    std::vector<std::string> flat;
    flat.reserve(
        2 + 2 * (state.tenant_maintenance.size() + state.releases.size() + state.tenants.size()));
    flat.emplace_back("global_maintenance");
    flat.push_back(json::serialize(to_json(state.global_maintenance)));
    const auto add = [&flat](std::string_view group, const std::string& name, std::string value) {
        flat.push_back(std::string(group) + field_separator + name);
        flat.push_back(std::move(value));
    };
    for (const auto& [name, maintenance] : state.tenant_maintenance)
        add("tenant_maintenance", name, json::serialize(to_json(maintenance)));
    for (const auto& [name, release] : state.releases)
        add("releases", name, json::serialize(to_json(release)));
    for (const auto& [name, tenant] : state.tenants) {
        std::string entry;
        append_tenant_entry(entry, tenant);
        add("tenants", name, std::move(entry));
    }
    return flat;
}

std::optional<RuntimeState> runtime_state_from_fields(std::vector<std::string> flat,
                                                      std::string& error) {
    if (flat.size() % 2 != 0) {
        error = "a field without a value";
        return std::nullopt;
    }
    RuntimeState state;
    bool has_version = false;
    std::vector<std::pair<std::string, RuntimeTenant>> tenants;
    StrictReader reader(error);
    // Each entry is parsed apart: their nodes come from one arena, freed at once at the end.
    json::monotonic_resource arena;
    for (std::size_t i = 0; i < flat.size(); i += 2) {
        const std::string& field = flat[i];
        if (field == "origin") {
            state.origin = std::move(flat[i + 1]);
            continue;
        }
        if (field == "version") {
            // As std::to_string writes it: the write script compares the stored text.
            const std::string& text = flat[i + 1];
            const char* end = text.data() + text.size();
            const auto [stop, ec] = std::from_chars(text.data(), end, state.version);
            if (ec != std::errc() || stop != end || std::to_string(state.version) != text) {
                error = "field version: expected digits";
                return std::nullopt;
            }
            has_version = true;
            continue;
        }
        const auto separator = field.find(field_separator);
        const std::string_view group = std::string_view(field).substr(0, separator);
        const bool per_tenant =
            separator != std::string::npos && separator + 1 < field.size() &&
            (group == "tenant_maintenance" || group == "releases" || group == "tenants");
        if (!per_tenant && field != "global_maintenance") {
            error = "field " + field + ": unknown";
            return std::nullopt;
        }
        boost::system::error_code ec;
        const json::value value = json::parse(flat[i + 1], ec, &arena);
        if (ec) {
            error = "field " + field + ": invalid JSON: " + ec.message();
            return std::nullopt;
        }
        if (field == "global_maintenance") {
            if (!read_maintenance(reader, value, field, state.global_maintenance))
                return std::nullopt;
            continue;
        }
        std::string name = field.substr(separator + 1);
        const std::string path = child_path(group, name);
        if (group == "tenants") {
            RuntimeTenant tenant;
            if (!read_runtime_tenant(reader, value, path, tenant)) return std::nullopt;
            tenants.emplace_back(std::move(name), std::move(tenant));
        } else if (group == "releases") {
            ReleaseState release;
            if (!read_release(reader, value, path, release)) return std::nullopt;
            state.releases.insert_or_assign(std::move(name), std::move(release));
        } else {
            Maintenance maintenance;
            if (!read_maintenance(reader, value, path, maintenance)) return std::nullopt;
            state.tenant_maintenance.insert_or_assign(std::move(name), std::move(maintenance));
        }
    }
    if (!has_version) {
        error = "field version: missing";
        return std::nullopt;
    }
    state.tenants = RuntimeTenants::from_entries(std::move(tenants));
    return state;
}

}  // namespace tg::proxy
