// Tunnel and VPN control protocols: GRE v0 (RFC 2784/2890) and v1 (RFC 2637 enhanced GRE),
// L2TPv2 (RFC 2661) and L2TPv3 over UDP (RFC 3931), PPTP control messages (RFC 2637).
#pragma once

#include <bit>
#include <optional>

#include "ports/parsers/common.hpp"

namespace ports::parsers {

inline constexpr std::uint16_t gre_proto_ppp = 0x880B;
inline constexpr std::uint16_t gre_proto_teb = 0x6558;      // transparent Ethernet bridging
inline constexpr std::uint16_t gre_proto_erspan2 = 0x88BE;  // ERSPAN type I/II
inline constexpr std::uint16_t gre_proto_erspan3 = 0x22EB;  // ERSPAN type III

struct gre_view {
    status st = status::ok;
    std::uint8_t version = 0;  // 0 or 1; other values: bad_version
    bool checksum_present = false;
    bool routing_present = false;  // RFC 1701 routing: unsupported
    bool key_present = false;
    bool sequence_present = false;
    bool ack_present = false;  // v1 only
    std::uint16_t protocol = 0;
    std::uint16_t checksum = 0;
    std::uint32_t key = 0;
    std::uint32_t sequence = 0;
    std::uint32_t ack = 0;
    // v1: the key field split as RFC 2637 defines it.
    std::uint16_t payload_length = 0;
    std::uint16_t call_id = 0;
    std::uint8_t header_length = 0;
    byte_span payload;
};
inline gre_view parse_gre(byte_span ip_payload);
// parse_gre's common case only: its result for a whole version 0 header without routing, which
// is ok; anything else it declines with st unsupported, deciding nothing (parse_gre's own
// status for such a header may be another). A view rather than an optional: GCC left the
// optional's fields stored to the stack on the inlined classify path.
inline gre_view parse_gre_v0(byte_span ip_payload);

struct l2tp_view {
    status st = status::ok;
    std::uint8_t version = 0;  // 2 or 3
    bool control = false;      // T bit
    bool length_present = false;
    bool sequence_present = false;
    bool offset_present = false;
    bool priority = false;
    std::uint16_t length = 0;
    std::uint32_t tunnel_id = 0;   // v2 tunnel id; v3 control connection id
    std::uint32_t session_id = 0;  // v2 session id; v3 data session id
    std::uint16_t ns = 0;
    std::uint16_t nr = 0;
    // Control messages: the Message Type AVP (RFC 2661 4.4.1), 0 for a ZLB acknowledgement.
    std::uint16_t message_type = 0;
    std::uint8_t header_length = 0;
    byte_span body;  // AVPs of a control message, or the data after the header
};
// The payload of UDP (or TCP) port 1701.
inline l2tp_view parse_l2tp(byte_span payload);

// L2TPv3 directly over IP (IP protocol 115, RFC 3931 4.1.1): a 32-bit session ID, zero for a
// control message, whose header (the one over UDP, version 3 with T set) follows it. A data
// message's body is what follows the session ID: the cookie and the L2-specific sublayer,
// whose lengths only the session's configuration knows.
inline l2tp_view parse_l2tp_ip(byte_span ip_payload);

// One attribute-value pair of an L2TP control message.
struct l2tp_avp {
    bool mandatory = false;
    bool hidden = false;
    std::uint16_t vendor_id = 0;
    std::uint16_t type = 0;
    byte_span value;
};

// Walks the AVPs of a control message's body. next() gives nothing at the end or on a
// malformed AVP (then failed() is true).
class l2tp_avp_iterator {
  public:
    explicit l2tp_avp_iterator(byte_span body) : rest_(body) {}
    inline std::optional<l2tp_avp> next();
    bool failed() const { return failed_; }

  private:
    byte_span rest_;
    bool failed_ = false;
};

inline constexpr std::uint32_t pptp_magic_cookie = 0x1A2B3C4D;

struct pptp_view {
    status st = status::ok;
    std::uint16_t length = 0;
    std::uint16_t message_type = 0;  // 1 control, 2 management
    std::uint32_t magic_cookie = 0;
    std::uint16_t control_type = 0;  // 1..15 (RFC 2637 2.0)
    byte_span message;               // the whole message, length bytes
};
// The first PPTP message at the start of a TCP payload on port 1723.
inline pptp_view parse_pptp(byte_span payload);

// The L2TP Host Name AVP (RFC 2661 4.4.3, type 7, IETF vendor 0) of a control message body,
// as sent in SCCRQ/SCCRP; nullopt when absent, hidden (its value is then encrypted) or when
// the AVPs before it are malformed.
inline constexpr std::uint16_t l2tp_avp_host_name = 7;
inline std::optional<byte_span> l2tp_host_name(byte_span body);

// The 64-byte host name and vendor fields of a Start-Control-Connection-Request or -Reply
// (RFC 2637 2.1/2.2), NUL padding cut off (everything from the first NUL).
struct pptp_sccr_fields {
    byte_span host_name;
    byte_span vendor;
};
inline constexpr std::uint16_t pptp_sccrq = 1;
inline constexpr std::uint16_t pptp_sccrp = 2;
// m: an ok parse_pptp result; nullopt for any other control message type.
inline std::optional<pptp_sccr_fields> pptp_sccr(const pptp_view& m);

}  // namespace ports::parsers

#include "ports/parsers/impl/tunnels_impl.hpp"
