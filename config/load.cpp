#include "config/load.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "config/diagnostics.hpp"
#include "config/schema.hpp"
#include "config/validate.hpp"

namespace tg::config {
namespace {

/// Counts the documents of a YAML stream, noting where the second one's first node is. It
/// replaces YAML::LoadAll, which never returns on some inputs (yaml-cpp 0.7): a ',' at the top
/// level ends an empty document without being consumed, so the parser starts the same empty
/// document again and again while the list of documents grows. A document that starts where
/// the previous one started is such a loop, and `stuck` stops the count there.
class DocumentCounter : public YAML::EventHandler {
  public:
    std::size_t documents = 0;
    YAML::Mark second_document;  ///< the first node of the second document, if any
    bool stuck = false;
    YAML::Mark stuck_at;

    void OnDocumentStart(const YAML::Mark& mark) override {
        if (documents > 0 && mark.pos == last_start_.pos) {
            stuck = true;
            stuck_at = mark;
        }
        last_start_ = mark;
        ++documents;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
    void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  const std::string&) override {
        node(mark);
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {
        node(mark);
    }
    void OnMapEnd() override {}

  private:
    YAML::Mark last_start_;
    bool second_seen_ = false;

    void node(const YAML::Mark& mark) {
        if (documents != 2 || second_seen_) return;
        second_document = mark;
        second_seen_ = true;
    }
};

/// Parses and checks one document; every failure ends up in `diag`, never in an exception.
std::shared_ptr<Snapshot> build(std::string_view yaml, const std::string& display_name,
                                const std::string& base_dir, detail::Diagnostics& diag) {
    try {
        const std::string text(yaml);
        DocumentCounter counter;
        std::istringstream stream(text);
        YAML::Parser parser(stream);
        while (!counter.stuck && parser.HandleNextDocument(counter)) {
        }
        if (counter.stuck) {
            diag.error(counter.stuck_at, "", "YAML syntax error: unexpected character");
            return nullptr;
        }
        const YAML::Node root = YAML::Load(text);  // the first document
        if (counter.documents == 0 || root.IsNull()) {
            diag.error(YAML::Mark::null_mark(), "", "the configuration is empty");
            return nullptr;
        }
        if (counter.documents > 1) {
            diag.error(counter.second_document, "",
                       "expected one YAML document, found " + std::to_string(counter.documents));
        }
        if (!root.IsMap()) {
            diag.error(root.Mark(), "", "expected a map of settings at the top level");
            return nullptr;
        }
        auto snapshot = std::make_shared<Snapshot>(detail::parse_snapshot(root, base_dir, diag));
        snapshot->source = display_name;
        detail::validate(*snapshot, diag);
        return snapshot;
    } catch (const YAML::Exception& e) {
        // Syntax errors: yaml-cpp's message is already precise ("end of sequence flow not found").
        diag.error(e.mark, "", "YAML syntax error: " + e.msg);
    } catch (const std::exception& e) {
        diag.error(YAML::Mark::null_mark(), "", std::string("cannot load: ") + e.what());
    }
    return nullptr;
}

std::string plural(std::size_t count, std::string_view noun) {
    return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

}  // namespace

std::string ConfigError::to_string() const {
    std::string text = file;
    if (line > 0) {
        // Appended piece by piece: `":" + std::to_string(...)` trips GCC 12's -Wrestrict.
        text += ':';
        text += std::to_string(line);
        text += ':';
        text += std::to_string(column);
    }
    text += ": ";
    if (!path.empty()) text += path + ": ";
    text += message;
    return text;
}

LoadResult load_text(std::string_view yaml, const std::string& display_name,
                     const std::string& base_dir) {
    detail::Diagnostics diag(display_name);
    auto snapshot = build(yaml, display_name, base_dir, diag);
    LoadResult result;
    result.errors = diag.take_errors();
    result.warnings = diag.take_warnings();
    if (result.errors.empty()) result.snapshot = std::move(snapshot);
    return result;
}

LoadResult load_file(const std::string& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                         &std::fclose);
    std::string text;
    if (file) {
        char buffer[1 << 16];
        std::size_t n = 0;
        while ((n = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, n);
    }
    if (!file || std::ferror(file.get()) != 0) {
        LoadResult result;
        result.errors.push_back(
            {path, 0, 0, "", std::string("cannot read file: ") + std::strerror(errno)});
        return result;
    }
    return load_text(text, path, std::filesystem::path(path).parent_path().string());
}

std::string describe(const Snapshot& snapshot) {
    return plural(snapshot.listeners.size(), "listener") + ", " +
           plural(snapshot.pools.size(), "pool") + ", " +
           plural(snapshot.tenants.size(), "tenant") + ", " +
           plural(snapshot.tenant_templates.size(), "tenant template") + ", " +
           plural(snapshot.freeze_windows.size(), "freeze window");
}

}  // namespace tg::config
