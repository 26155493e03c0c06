#include "proxy/state/state_file.hpp"

#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include "tests/unit/file_fixtures.hpp"

namespace fs = std::filesystem;
using tg::config::Color;
using tg::proxy::Maintenance;
using tg::proxy::ReleaseState;
using tg::proxy::RuntimeState;
using tg::proxy::StateFile;
using Outcome = tg::proxy::StateFileLoad::Outcome;

using tg::test::FileSizeLimit;
using tg::test::read_file;
using tg::test::TempDir;

namespace {

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

/// The names in `directory`: a failed save must leave no temporary file behind.
std::set<std::string> names_in(const fs::path& directory) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(directory))
        names.insert(entry.path().filename().string());
    return names;
}

RuntimeState switched_state() {
    RuntimeState state;
    state.version = 1733380000123;
    state.origin = "host-1";
    state.tenant_maintenance["acme"] = Maintenance{true, "Upgrading", 600};
    state.releases["acme"] = ReleaseState{Color::green, Color::blue, 1733380000123, 120000};
    return state;
}

}  // namespace

TEST_CASE("state file: none yet is a fresh start, not an error", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto load = StateFile((dir / "state.json").string()).load();
    CHECK(load.outcome == Outcome::absent);
    CHECK(load.ok());
    CHECK(load.state == RuntimeState{});
    CHECK(load.error.empty());
}

TEST_CASE("state file: what is saved is loaded, and replaced whole", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto path = dir / "state.json";
    StateFile file(path.string());
    std::string error;
    REQUIRE(file.save(switched_state(), error));
    CHECK(error.empty());

    auto load = file.load();
    REQUIRE(load.outcome == Outcome::loaded);
    CHECK(load.state == switched_state());
    struct stat info {};
    REQUIRE(::stat(path.c_str(), &info) == 0);
    CHECK((info.st_mode & 0777) == 0600);
    CHECK(read_file(path).ends_with("}\n"));

    RuntimeState next = switched_state();
    next.version += 1;
    next.releases.clear();
    REQUIRE(file.save(next, error));
    load = file.load();
    REQUIRE(load.outcome == Outcome::loaded);
    CHECK(load.state == next);
    CHECK(names_in(dir.path()) == std::set<std::string>{"state.json", "state.json.journal"});
}

TEST_CASE("state file: a corrupt file is an error naming it, and is left alone", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto path = dir / "state.json";
    StateFile file(path.string());
    for (
        const std::string text :
        {"", "{\"version\": 3, \"releases\": {\"acme\": {\"act", "{\"version\": 3, \"extra\": 1}",
         R"({"releases": {"acme": {"active": "red", "switched_at_ms": 1, "drain_timeout_ms": 1}}})"}) {
        INFO(text);
        write_file(path, text);
        const auto load = file.load();
        CHECK(load.outcome == Outcome::failed);
        CHECK_FALSE(load.ok());
        CHECK(load.state == RuntimeState{});
        CHECK(load.error.find(path.string()) != std::string::npos);
        CHECK(read_file(path) == text);
    }
    write_file(path, R"({"releases": {"acme": {"active": "red"}}})");
    CHECK(file.load().error ==
          "state file " + path.string() + ": releases.acme.active: expected \"blue\" or \"green\"");
    write_file(path, "{");
    CHECK(file.load().error.find(": invalid JSON at byte ") != std::string::npos);
}

TEST_CASE("state file: an unreadable path is an error with the reason", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto path = dir / "state.json";
    fs::create_directory(path);
    const auto load = StateFile(path.string()).load();
    CHECK(load.outcome == Outcome::failed);
    CHECK(load.error == "cannot read state file " + path.string() + ": Is a directory");
}

TEST_CASE("state file: a failed save keeps the old file and leaves no temporary file",
          "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto path = dir / "state.json";
    StateFile file(path.string());
    std::string error;
    REQUIRE(file.save(switched_state(), error));
    const std::string before = read_file(path);
    RuntimeState next = switched_state();
    next.version += 1;
    // One that has not saved or loaded yet rewrites the file whole.
    StateFile fresh(path.string());

    SECTION("the write fails (file size limit, as a full disk)") {
        bool saved = true;
        {
            FileSizeLimit limit(16);
            saved = fresh.save(next, error);
        }
        CHECK_FALSE(saved);
        CHECK(error.starts_with("cannot write " + path.string() + ".tmp-"));
        CHECK(error.ends_with(": File too large"));
    }
    SECTION("the rename fails (the target became a directory)") {
        fs::remove(path);
        fs::create_directory(path);
        write_file(path / "inside", before);
        CHECK_FALSE(fresh.save(next, error));
        CHECK(error.starts_with("cannot rename " + path.string() + ".tmp-"));
        CHECK(fs::is_directory(path));
        CHECK(read_file(path / "inside") == before);
    }
    CHECK(names_in(dir.path()) == std::set<std::string>{"state.json", "state.json.journal"});
    if (fs::is_regular_file(path)) {
        CHECK(read_file(path) == before);
        CHECK(file.load().state == switched_state());
    }
}

TEST_CASE("state file: a save into a vanished directory fails with the reason", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto path = dir / "gone" / "state.json";
    std::string error;
    CHECK_FALSE(StateFile(path.string()).save(switched_state(), error));
    CHECK(error.starts_with("cannot create " + path.string() + ".tmp-"));
    CHECK(error.ends_with(": No such file or directory"));
    CHECK(names_in(dir.path()).empty());
}

TEST_CASE("state file: a relative path saves in the current directory", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto cwd = fs::current_path();
    fs::current_path(dir.path());
    std::string error;
    const bool saved = StateFile("state.json").save(switched_state(), error);
    fs::current_path(cwd);
    INFO(error);
    CHECK(saved);
    CHECK(StateFile((dir / "state.json").string()).load().state == switched_state());
}

namespace {

/// `state` with runtime tenant `name` set to a definition of about `size` bytes.
RuntimeState with_tenant(RuntimeState state, const std::string& name, std::size_t size = 60) {
    const std::string host = "erp." + name + ".example.com";
    std::string definition = R"({"hosts":[")" + host + R"("],"pool":"shared")";
    definition += R"(,"note":")" + std::string(size > 60 ? size - 60 : 0, 'x') + R"("})";
    state.version += 1;
    state.tenants.insert_or_assign(name, tg::proxy::RuntimeTenant{definition, 1});
    return state;
}

std::size_t lines_in(const fs::path& path) {
    const std::string text = read_file(path);
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

TEST_CASE("state file: a change is a journal line, replayed by a load", "[proxy][state]") {
    TempDir dir("tg-state-file");
    const auto path = dir / "state.json";
    const fs::path journal = path.string() + ".journal";
    StateFile file(path.string());
    std::string error;
    RuntimeState state = switched_state();
    for (int i = 0; i < 300; ++i) state = with_tenant(state, "t" + std::to_string(i));
    REQUIRE(file.save(state, error));
    const std::string whole = read_file(path);
    CHECK(lines_in(journal) == 1);  // its header alone

    state = with_tenant(state, "new");
    state = with_tenant(state, "t5");
    REQUIRE(file.save(state, error));
    state.tenant_maintenance["acme"].enabled = false;
    state.tenants.insert_or_assign("t6", tg::proxy::RuntimeTenant{"", 2});  // removed
    REQUIRE(file.save(state, error));
    CHECK(read_file(path) == whole);  // not rewritten
    CHECK(lines_in(journal) == 3);
    CHECK(read_file(journal).size() < 1500);  // two changes, not 300 tenants

    StateFile restarted(path.string());
    const auto load = restarted.load();
    REQUIRE(load.outcome == Outcome::loaded);
    CHECK(load.state == state);
    // The restarted one goes on appending to the same journal.
    state = with_tenant(state, "later");
    REQUIRE(restarted.save(state, error));
    CHECK(lines_in(journal) == 4);
    CHECK(StateFile(path.string()).load().state == state);

    SECTION("a release entry dropped (a reload removed its tenant) rewrites the file") {
        state.releases.clear();
        REQUIRE(restarted.save(state, error));
        CHECK(read_file(path) != whole);
        CHECK(lines_in(journal) == 1);
        CHECK(StateFile(path.string()).load().state == state);
    }
    SECTION("a line carries the per-tenant entries that changed, not the others") {
        state.tenant_maintenance["globex"] = Maintenance{true, "globex only", 60};
        REQUIRE(restarted.save(state, error));
        const std::string text = read_file(journal);
        const std::string last = text.substr(text.rfind('\n', text.size() - 2) + 1);
        CHECK(last.find("globex only") != std::string::npos);
        CHECK(last.find("Upgrading") == std::string::npos);  // acme's, unchanged
        CHECK(StateFile(path.string()).load().state == state);
    }
    SECTION("a tenant gone from the state (not a tombstone) rewrites the file") {
        state.tenants.erase("t7");
        REQUIRE(restarted.save(state, error));
        CHECK(read_file(path) != whole);
        CHECK(lines_in(journal) == 1);
        CHECK(StateFile(path.string()).load().state == state);
    }
    SECTION("a journal bigger than the state file is folded into it") {
        int saves = 0;
        while (lines_in(journal) > 1 && saves < 200) {
            state = with_tenant(state, "big" + std::to_string(saves++), 4000);
            REQUIRE(restarted.save(state, error));
        }
        CHECK(lines_in(journal) == 1);
        CHECK(saves > 5);
        CHECK(StateFile(path.string()).load().state == state);
    }
    SECTION("a last line cut short by a crash is ignored, and the next save rewrites") {
        std::ofstream(journal, std::ios::app) << R"({"version":99,"tenants":{"cut)";
        StateFile after_crash(path.string());
        REQUIRE(after_crash.load().state == state);
        state = with_tenant(state, "after");
        REQUIRE(after_crash.save(state, error));
        CHECK(lines_in(journal) == 1);
        CHECK(StateFile(path.string()).load().state == state);
    }
    SECTION("a bad line before the last is an error naming the journal and the line") {
        const std::string text = read_file(journal);
        const auto second_line = text.find('\n') + 1;
        write_file(journal, text.substr(0, second_line) + "{oops\n" + text.substr(second_line));
        const auto broken = StateFile(path.string()).load();
        CHECK(broken.outcome == Outcome::failed);
        CHECK(broken.error.starts_with("state journal " + journal.string() + " line 2: "));
    }
    SECTION("a journal of another state file (a crash between two renames) is ignored") {
        RuntimeState other = switched_state();
        other.version = 7;
        write_file(path, "{\"version\": 7, \"origin\": \"host-1\"}\n");
        CHECK(StateFile(path.string()).load().state.version == 7);
        CHECK(StateFile(path.string()).load().state.tenants.empty());
    }
}
