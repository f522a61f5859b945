#include "ports/ntp/symmetric_keys.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "ports/common/text.hpp"

namespace ports::ntp {

namespace {

// ntpd's rule for a key without an encoding prefix: up to 20 characters is a password.
constexpr std::size_t ascii_unprefixed_max = 20;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool is_type_name(std::string_view t) {
    for (const std::string_view n :
         {"MD5", "M", "SHA1", "SHA-1", "AES128CMAC", "AES-128-CMAC", "AES", "AES128", "CMAC"}) {
        if (iequals(t, n)) {
            return true;
        }
    }
    return false;
}

key_type parse_type(std::string_view t) {
    if (iequals(t, "MD5") || iequals(t, "M")) {
        return key_type::md5;
    }
    if (iequals(t, "SHA1") || iequals(t, "SHA-1")) {
        return key_type::sha1;
    }
    if (iequals(t, "AES128CMAC") || iequals(t, "AES-128-CMAC") || iequals(t, "AES") ||
        iequals(t, "AES128") || iequals(t, "CMAC")) {
        return key_type::aes128_cmac;
    }
    throw key_error("unsupported key type '" + std::string(t) + "' (MD5, SHA1 or AES128CMAC)");
}

void decode_hex(std::string_view hex, key& k) {
    if (hex.empty()) {
        throw key_error("empty key");
    }
    if (hex.size() % 2 != 0) {
        throw key_error("hex key has an odd number of digits");
    }
    if (hex.size() / 2 > max_key_length) {
        throw key_error("key longer than " + std::to_string(max_key_length) + " bytes");
    }
    if (text::decode_hex(hex, std::span(k.material).first(hex.size() / 2)) !=
        std::string_view::npos) {
        throw key_error(
            "invalid hex digit in key (a key of more than 20 characters is hex; "
            "prefix it with ASCII: for a long password)");
    }
    k.length = static_cast<std::uint8_t>(hex.size() / 2);
}

void decode_ascii(std::string_view text, key& k) {
    if (text.empty()) {
        throw key_error("empty key");
    }
    if (text.size() > max_key_length) {
        throw key_error("key longer than " + std::to_string(max_key_length) + " bytes");
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        // Whitespace and '#' cannot occur here (they end the field); control and 8-bit
        // characters would make the key depend on the file's encoding.
        if (c < 0x21 || c > 0x7e) {
            throw key_error("non-printable character in ASCII key");
        }
        k.material[i] = c;
    }
    k.length = static_cast<std::uint8_t>(text.size());
}

std::uint16_t parse_id(std::string_view s) {
    std::uint32_t id = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
    if (ec == std::errc::result_out_of_range ||
        (ec == std::errc() && end == s.data() + s.size() && (id == 0 || id > max_key_id))) {
        throw key_error("key id '" + std::string(s) + "' out of range 1..65535");
    }
    if (ec != std::errc() || end != s.data() + s.size()) {
        throw key_error("key id '" + std::string(s) + "' is not a number");
    }
    return static_cast<std::uint16_t>(id);
}

void check_length(const key& k) {
    if (k.type == key_type::aes128_cmac && k.length != 16) {
        throw key_error(
            "AES-128-CMAC key must be 16 bytes (32 hex digits or 16 ASCII characters), "
            "not " +
            std::to_string(k.length));
    }
    if (k.length == 0 || k.length > max_key_length) {
        throw key_error("key length " + std::to_string(k.length) + " outside 1.." +
                        std::to_string(max_key_length));
    }
}

}  // namespace

key_table::key_table() : index_(max_key_id + 1, 0) {}

void key_table::add(const key& k) {
    if (k.id == 0) {
        throw key_error("key id 0 is reserved");
    }
    if (index_[k.id] != 0) {
        throw key_error("duplicate key id " + std::to_string(k.id));
    }
    check_length(k);
    keys_.push_back(k);
    index_[k.id] = static_cast<std::uint16_t>(keys_.size());
}

key make_key(std::string_view id, std::string_view type, std::string_view material) {
    key k;
    k.id = parse_id(id);
    k.type = parse_type(type);
    if (istarts_with(material, "HEX:")) {
        decode_hex(material.substr(4), k);
    } else if (istarts_with(material, "ASCII:")) {
        decode_ascii(material.substr(6), k);
    } else if (material.size() <= ascii_unprefixed_max) {
        decode_ascii(material, k);
    } else {
        decode_hex(material, k);
    }
    check_length(k);
    return k;
}

key_table parse_key_file(std::string_view file_text, std::string_view name) {
    key_table table;
    text::line_reader lines(file_text);
    std::string_view line;
    while (lines.next(line)) {
        // KEYID TYPE KEY, and a fourth slot to see what follows them.
        std::array<std::string_view, 4> fields;
        const std::size_t count = text::split_fields(text::strip_comment(line), fields);
        const std::string where = std::string(name) + ":" + std::to_string(lines.number()) + ": ";
        try {
            if (count == 0) {
                continue;
            }
            if (count == 1) {
                throw key_error("missing key (KEYID TYPE KEY)");
            }
            if (count > 3) {
                throw key_error("unexpected field '" + std::string(fields[3]) +
                                "' after the key (per-key address lists are not supported)");
            }
            // chrony lets the type default to MD5; `1 SHA1` is more likely a key left out than
            // the password "SHA1".
            if (count == 2 && is_type_name(fields[1])) {
                throw key_error("missing key (KEYID TYPE KEY)");
            }
            const key k = count == 2 ? make_key(fields[0], "MD5", fields[1])
                                     : make_key(fields[0], fields[1], fields[2]);
            table.add(k);
        } catch (const key_error& e) {
            throw key_error(where + e.what());
        }
    }
    return table;
}

key_table load_key_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        throw key_error(path + ": cannot open the key file: " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        throw key_error(path + ":0: cannot read key file");
    }
    return parse_key_file(text.str(), path);
}

}  // namespace ports::ntp
