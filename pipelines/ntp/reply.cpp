#include "ports/ntp/reply.hpp"

#include <cstring>

namespace ports::ntp {

namespace {

using parsers::ntp_mode;

constexpr std::size_t key_id_length = 4;

using reply_detail::store_be32;
using reply_detail::store_be64;

reply_result dropped(drop_reason why) {
    reply_result r;
    r.act = action::drop;
    r.reason = why;
    return r;
}

// Why a request is not answered at all, before authentication is looked at.
drop_reason classify_request(std::span<const std::uint8_t> payload,
                             const parsers::ntp_view& request) {
    // An empty payload has no mode to speak of; a bad version makes the mode bits meaningless.
    if (payload.empty() || request.st == parsers::status::bad_version) {
        return drop_reason::malformed;
    }
    if (request.mode == ntp_mode::control) {
        return drop_reason::mode6;
    }
    if (request.mode == ntp_mode::private_) {
        return drop_reason::mode7;
    }
    if (request.mode != ntp_mode::client) {
        return drop_reason::other_mode;
    }
    if (request.st != parsers::status::ok || payload.size() < header_length ||
        request.version == 0 || request.version > 4) {
        return drop_reason::malformed;
    }
    return drop_reason::none;
}

// Everything but the transmit timestamp and the MAC trailer.
void write_header(std::uint8_t* p, const parsers::ntp_view& request, const clock_state& clock,
                  std::uint64_t rx_ts, std::uint8_t stratum_override, std::uint32_t refid_override,
                  bool kod) {
    write_reply_header(p, make_reply_header(clock, stratum_override, refid_override, kod),
                       request.version, rx_ts);
}

}  // namespace

reply_result build_reply(std::span<std::uint8_t> payload, const parsers::ntp_view& request,
                         const clock_state& clock, std::uint64_t rx_ts,
                         const server_config& config, auth_context auth) noexcept {
    if (const drop_reason why = classify_request(payload, request); why != drop_reason::none) {
        return dropped(why);
    }

    // Verified against the request's own bytes, so before anything is rewritten.
    const key* signing_key = nullptr;
    bool nak = false;
    if (request.has_mac && request.mac_digest_length != 0 && request.extension_count == 0) {
        const key* k = auth.keys != nullptr ? auth.keys->find(request.mac_key_id) : nullptr;
        const std::size_t digest_at = std::size_t{request.mac_offset} + key_id_length;
        if (k != nullptr && auth.engine != nullptr &&
            digest_at + request.mac_digest_length <= payload.size() &&
            auth.engine->verify(*k, payload.first(request.mac_offset),
                                payload.subspan(digest_at, request.mac_digest_length))) {
            signing_key = k;
        } else {
            nak = true;
        }
    }
    if (signing_key == nullptr && !nak && config.require_auth) {
        return dropped(drop_reason::auth_required);
    }

    std::size_t length = header_length;
    if (signing_key != nullptr) {
        length += key_id_length + digest_length(signing_key->type);
    } else if (nak) {
        length += key_id_length;
    }
    if (length > payload.size()) {
        return dropped(drop_reason::too_short);
    }

    std::uint8_t* p = payload.data();
    write_header(p, request, clock, rx_ts, config.stratum, config.refid, false);
    reply_result r;
    r.act = action::reply;
    r.reply_length = static_cast<std::uint16_t>(length);
    if (signing_key != nullptr) {
        store_be32(p + header_length, signing_key->id);
        std::memset(p + header_length + key_id_length, 0, digest_length(signing_key->type));
        r.authenticated = true;
        r.sign_key_id = signing_key->id;
    } else if (nak) {
        store_be32(p + header_length, 0);
        r.crypto_nak = true;
    }
    return r;
}

reply_result build_kod_rate(std::span<std::uint8_t> payload, const parsers::ntp_view& request,
                            const clock_state& clock, std::uint64_t rx_ts) noexcept {
    if (const drop_reason why = classify_request(payload, request); why != drop_reason::none) {
        return dropped(why);
    }
    write_header(payload.data(), request, clock, rx_ts, 0, 0, true);
    reply_result r;
    r.act = action::reply;
    r.reply_length = header_length;
    r.kod = true;
    return r;
}

bool finalize_transmit(std::span<std::uint8_t> payload, const reply_result& result,
                       std::uint64_t tx_ts, auth_context auth) noexcept {
    if (result.act != action::reply || result.reply_length < header_length ||
        result.reply_length > payload.size()) {
        return false;
    }
    store_be64(payload.data() + 40, tx_ts);
    if (!result.authenticated) {
        return true;
    }
    const key* k = auth.keys != nullptr ? auth.keys->find(result.sign_key_id) : nullptr;
    if (k == nullptr || auth.engine == nullptr) {
        return false;
    }
    const std::size_t n = digest_length(k->type);
    if (result.reply_length != header_length + key_id_length + n) {
        return false;
    }
    return auth.engine->sign(*k, payload.first(header_length),
                             payload.subspan(header_length + key_id_length, n)) == n;
}

}  // namespace ports::ntp
