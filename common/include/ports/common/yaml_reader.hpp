// The checks every YAML file the engine reads needs, written once for the engine's config
// (engine/config.cpp) and rules files (pipelines/rules/rules.cpp): the document itself (what
// yaml-cpp lets through: a key twice in a mapping, a quoted string never closed, nesting
// deeper than any of our files has), a mapping of known keys only, a string, an integer in
// range; each failure names its file and line. Setup code: it allocates and throws, through
// the reader's own fail() (its own exception type and prefix).
#pragma once

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <exception>
#include <initializer_list>
#include <map>
#include <string>
#include <string_view>

namespace ports::yaml_reader {

// "FILE:LINE: ", the prefix of every message about a place in a file.
inline std::string where(const std::string& file, int line) {
    return file + ":" + std::to_string(line) + ": ";
}

// A node's line, 1-based (0 when yaml-cpp has no mark for it).
inline int line_of(const YAML::Node& n) {
    return n.Mark().line >= 0 ? n.Mark().line + 1 : 0;
}

// Deeper than any file we read needs (a config goes 4 levels down); far below yaml-cpp's own
// limit, whose refusal says only "bad file".
constexpr int max_depth = 32;
// Nodes visited by check_document, aliases counted each time they are used: a few aliases
// can stand for billions of nodes ("billion laughs").
constexpr std::size_t max_nodes = 8'000'000;

// Parses `text` as one YAML document; a syntax error, or a nesting yaml-cpp gives up on, as
// Error("FILE:LINE: message").
template <class Error>
YAML::Node parse_document(const std::string& text, const std::string& file) {
    try {
        return YAML::Load(text);
    } catch (const YAML::DeepRecursion& e) {
        throw Error(where(file, e.mark.line + 1) + "nested deeper than " +
                    std::to_string(max_depth) + " levels (mappings and lists in each other)");
    } catch (const YAML::ParserException& e) {
        throw Error(where(file, e.mark.line + 1) + e.msg);
    }
}

// True when the quoted scalar that opens at text[pos] (a ' or ") has its closing quote.
// yaml-cpp 0.7 takes a quote never closed as a string that runs to the end of the file, so
// the keys after it vanish into it without a word.
inline bool quote_closed(std::string_view text, std::size_t pos) {
    const char q = text[pos];
    for (std::size_t i = pos + 1; i < text.size(); ++i) {
        if (q == '"' && text[i] == '\\') {
            ++i;  // an escape: the next character is never the closing quote
        } else if (text[i] == q) {
            if (q == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
                ++i;  // '' inside single quotes is one quote
            } else {
                return true;
            }
        }
    }
    return false;
}

// The checks, for a reader that derives from checks<itself> and has
//   [[noreturn]] void fail(const YAML::Node& at, const std::string& message) const;
template <class Reader>
class checks {
  public:
    // `map` must be a mapping whose keys are all in `allowed`; `what` names it in messages.
    void only_keys(const YAML::Node& map, std::initializer_list<std::string_view> allowed,
                   const std::string& what) const {
        if (!map.IsMap()) {
            fail_at(map, what + " must be a mapping");
        }
        for (const auto& kv : map) {
            const std::string key = kv.first.as<std::string>();
            bool known = false;
            for (auto a : allowed) {
                known = known || key == a;
            }
            if (!known) {
                std::string list;
                for (auto a : allowed) {
                    list += (list.empty() ? "" : ", ") + std::string(a);
                }
                fail_at(kv.first,
                        "unknown key '" + key + "' in " + what + " (known: " + list + ")");
            }
        }
    }

    std::string string_of(const YAML::Node& n, const std::string& key) const {
        if (!n.IsScalar()) {
            fail_at(n, "'" + key + "' must be a string");
        }
        return n.Scalar();
    }

    // An integer in [lo, hi] (decimal, 0x hex or 0 octal, as strtoll reads them).
    long long integer_of(const YAML::Node& n, const std::string& key, long long lo,
                         long long hi) const {
        if (!n.IsScalar()) {
            fail_at(n, "'" + key + "' must be an integer");
        }
        const std::string& s = n.Scalar();
        std::size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(s, &used, 0);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != s.size()) {
            fail_at(n, "'" + key + "' must be an integer, not '" + s + "'");
        }
        if (v < lo || v > hi) {
            fail_at(n, "'" + key + "' = " + s + " is out of range [" + std::to_string(lo) + ", " +
                           std::to_string(hi) + "]");
        }
        return v;
    }

    // An integer in [0, hi], up to 2^64 - 1 (values a packet field holds).
    std::uint64_t unsigned_of(const YAML::Node& n, const std::string& key, std::uint64_t hi) const {
        if (!n.IsScalar()) {
            fail_at(n, "'" + key + "' must be an integer");
        }
        const std::string& s = n.Scalar();
        std::size_t used = 0;
        unsigned long long v = 0;
        try {
            v = std::stoull(s, &used, 0);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != s.size() || s.starts_with("-")) {
            fail_at(n, "'" + key + "' must be a non-negative integer, not '" + s + "'");
        }
        if (v > hi) {
            fail_at(n, "'" + key + "' = " + s + " is out of range [0, " + std::to_string(hi) + "]");
        }
        return v;
    }

    // What yaml-cpp accepts and a reader must not: a key repeated in one mapping (yaml-cpp
    // keeps both and a lookup sees the first), a quoted string never closed, nesting deeper
    // than max_depth, more than max_nodes nodes. `text` is what root was parsed from.
    void check_document(const YAML::Node& root, std::string_view text) const {
        std::size_t visited = 0;
        check_node(root, text, 0, visited);
    }

  private:
    void check_node(const YAML::Node& n, std::string_view text, int depth,
                    std::size_t& visited) const {
        if (++visited > max_nodes) {
            fail_at(n, "more than " + std::to_string(max_nodes) +
                           " nodes (aliases used over and over?)");
        }
        if (depth > max_depth) {
            fail_at(n, "nested deeper than " + std::to_string(max_depth) +
                           " levels (mappings and lists in each other)");
        }
        if (n.IsScalar()) {
            // yaml-cpp tags a quoted scalar "!" and marks it at its opening quote.
            const std::size_t pos = static_cast<std::size_t>(n.Mark().pos);
            if (n.Tag() == "!" && n.Mark().pos >= 0 && pos < text.size() &&
                (text[pos] == '"' || text[pos] == '\'') && !quote_closed(text, pos)) {
                fail_at(n, std::string("a ") + (text[pos] == '"' ? "double" : "single") +
                               "-quoted string opens here and is never closed (the closing " +
                               text[pos] + " is missing)");
            }
        } else if (n.IsSequence()) {
            for (const auto& item : n) {
                check_node(item, text, depth + 1, visited);
            }
        } else if (n.IsMap()) {
            std::map<std::string, int, std::less<>> keys;  // key -> its line
            for (const auto& kv : n) {
                check_node(kv.first, text, depth + 1, visited);
                if (kv.first.IsScalar()) {
                    const auto [at, fresh] = keys.emplace(kv.first.Scalar(), line_of(kv.first));
                    if (!fresh) {
                        fail_at(kv.first, "key '" + at->first +
                                              "' appears twice in this mapping (first at line " +
                                              std::to_string(at->second) + ")");
                    }
                }
                check_node(kv.second, text, depth + 1, visited);
            }
        }
    }

    [[noreturn]] void fail_at(const YAML::Node& at, const std::string& message) const {
        static_cast<const Reader&>(*this).fail(at, message);
    }
};

}  // namespace ports::yaml_reader
