#!/usr/bin/python3
"""Derive expected per-class packet/byte counts for the shared pcap corpus.

This script is deliberately INDEPENDENT of the engine's C++ code: it uses
TShark's dissection as the primary source and a small stdlib-only raw-byte
walk (pcap/pcapng reader + Ethernet/VLAN/IPv4/IPv6 header walk) as a second
opinion.  It is a dev-time tool (CI has tshark, for rules-cli, but does not
re-derive); only its output, tests/integration/expected_counts.json, is
committed and consumed by the tests.

Re-run (from the repository root, with tshark/capinfos installed:
``DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tshark``):

    /usr/bin/python3 tests/integration/derive_expected.py ../shared/pcaps \
        > tests/integration/expected_counts.json

The pcaps directory argument defaults to ../shared/pcaps relative to the
repository root.  Every *.pcap, *.pcapng and *.cap below it is processed
recursively, except anything under ndpi/expected/.  Per-frame decisions can be
dumped with ``--frames FILE`` (TSV) and disagreements between TShark and the
raw walk are always reported on stderr.

Classification rule (classes: ntp, snmp, snmp-trap, l2tp, pptp, gre, other)
----------------------------------------------------------------------------
Each frame is judged alone (IPv4/IPv6 reassembly and TCP reassembly are
disabled).  Only the OUTERMOST IP header and the transport header directly
after it decide; anything inside a tunnel is ignored (NTP inside GRE -> gre,
GRE-in-GRE counts once as gre).  IP-in-IP is the exception, looked through
like a VLAN tag: an IP header whose protocol (IPv6: final next header) is 4
or 41, and which is not a fragment (IPv4 MF or offset, IPv6 fragment header),
hands the decision to the IP header inside it, up to 2 such headers; a third
IP-in-IP header is other.  A fragmented IP-in-IP datagram is other.

* No IP header at all (ARP, STP, LLC, loopback, unparsable IP) -> other.
* IP protocol 47 -> gre.  For IPv6 this is the final next-header after the
  extension headers hop-by-hop (0), routing (43), fragment (44),
  destination options (60) and AH (51).  Any fragment of a GRE datagram,
  first or not, is gre.
* Otherwise a non-first fragment (fragment offset != 0) -> other.
* IP protocol 115 (L2TPv3 over IP, RFC 3931) -> l2tp.
* UDP: destination port 123 -> ntp, 161 -> snmp, 162 -> snmp-trap,
  1701 -> l2tp, 4754 -> gre (GRE in UDP, RFC 8086); else the same lookup on
  the source port; else other.
* TCP: destination port 1701 -> l2tp, 1723 -> pptp; else the same lookup on
  the source port; else other.
* Everything else (ICMP, other IP protocols, TCP/123, UDP/1723, ...) -> other.
* bytes = captured length of the frame (frame.cap_len), summed per class.

From TShark the outermost IP is the first ``ip``/``ipv6`` entry in
frame.protocols; its fields are the first occurrence of ip.* (only used when
that first network layer is ``ip``), IPv6 extension headers are taken from
the ``ipv6.*`` entries that directly follow it, and ports are used only if
``udp``/``tcp`` is the layer directly after the outer IP (so a UDP header
inside ICMP errors or tunnels never decides).

The ``tshark`` block of each capture is informative only: per class, how many
of the class's frames TShark dissected as the class's protocol (``ntp``,
``snmp`` for snmp and snmp-trap, ``l2tp``, ``pptp``, ``gre`` in
frame.protocols) and how many TShark flags malformed (_ws.malformed present or
an expert item of severity error).  The engine decides malformedness by its own
stricter rules.

``notes`` lists frames that deserve a human look: the outer IP reached via an
L2 encapsulation other than Ethernet/802.1Q/802.1ad/QinQ (e.g. PPPoE; such a
frame is still classified by that IP header), an IP-in-IP header looked
through (or not: fragmented, or nested too deep), an IP header TShark could
not dissect, or a TShark/raw-walk disagreement.
"""

import collections
import json
import os
import struct
import subprocess
import sys

CLASSES = ["ntp", "snmp", "snmp-trap", "l2tp", "pptp", "gre", "other"]
UDP_PORTS = {123: "ntp", 161: "snmp", 162: "snmp-trap", 1701: "l2tp",
             4754: "gre"}
TCP_PORTS = {1701: "l2tp", 1723: "pptp"}
TSHARK_PROTO = {"ntp": "ntp", "snmp": "snmp", "snmp-trap": "snmp",
                "l2tp": "l2tp", "pptp": "pptp", "gre": "gre"}
SEV_ERROR = 0x00800000
IPV6_EXT = {0, 43, 44, 60, 51}
IP_IN_IP = (4, 41)
IP_IN_IP_MAX_DEPTH = 2

# libpcap LINKTYPE numbers -> DLT names
DLT_NAMES = {0: "NULL", 1: "EN10MB", 12: "RAW", 14: "RAW", 101: "RAW",
             108: "LOOP", 113: "LINUX_SLL", 276: "LINUX_SLL2"}
# capinfos/wiretap short encapsulation names -> DLT names
WTAP_TO_DLT = {"ether": "EN10MB", "rawip": "RAW", "rawip4": "RAW",
               "rawip6": "RAW", "null": "NULL", "loop": "LOOP",
               "linux-sll": "LINUX_SLL", "linux-sll2": "LINUX_SLL2"}

TSHARK_PREFS = [
    "-o", "ip.defragment:FALSE",
    "-o", "ipv6.defragment:FALSE",
    "-o", "tcp.desegment_tcp_streams:FALSE",
    "-o", "udp.try_heuristic_first:FALSE",
    "-o", "tcp.try_heuristic_first:FALSE",
]

FIELDS = [
    "frame.number", "frame.cap_len", "frame.protocols",
    "ip.proto", "ip.frag_offset", "ip.flags.mf",
    "ipv6.nxt", "ipv6.hopopts.nxt", "ipv6.routing.nxt", "ipv6.fraghdr.nxt",
    "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.dstopts.nxt",
    "ah.next_header",
    "udp.srcport", "udp.dstport", "tcp.srcport", "tcp.dstport",
    "_ws.malformed", "_ws.expert.severity",
]
IPV6_EXT_LAYERS = {"ipv6.hopopts": "ipv6.hopopts.nxt",
                   "ipv6.routing": "ipv6.routing.nxt",
                   "ipv6.fraghdr": "ipv6.fraghdr.nxt",
                   "ipv6.dstopts": "ipv6.dstopts.nxt",
                   "ah": "ah.next_header"}
PLAIN_L2 = {"eth", "ethertype", "vlan", "null", "raw", "sll", "loop"}


def port_class(table, src, dst):
    if dst in table:
        return table[dst]
    if src in table:
        return table[src]
    return "other"


def l4_class(proto, frag_off, ports):
    """Shared final step of the rule. ports = (src, dst) or None."""
    if proto == 47:
        return "gre"
    if frag_off:
        return "other"
    if proto == 115:
        return "l2tp"
    if proto == 17 and ports is not None:
        return port_class(UDP_PORTS, *ports)
    if proto == 6 and ports is not None:
        return port_class(TCP_PORTS, *ports)
    return "other"


# --------------------------------------------------------------------------
# TShark (primary)
# --------------------------------------------------------------------------

def tshark_version():
    out = subprocess.run(["tshark", "--version"], capture_output=True,
                         text=True, check=True).stdout
    first = out.splitlines()[0]            # "TShark (Wireshark) 4.0.17 (...)"
    return first.split()[2]


def tshark_frames(path):
    cmd = ["tshark", "-n", "-r", path] + TSHARK_PREFS + [
        "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
        "-E", "aggregator=|", "-E", "quote=n"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        yield {f: (c.split("|") if c != "" else [])
               for f, c in zip(FIELDS, cols)}


def tshark_classify(fr):
    """Returns (class, dict of detail)."""
    protos = fr["frame.protocols"][0].split(":") if fr["frame.protocols"] else []
    det = {"protos": protos, "note": None}
    idx = next((i for i, p in enumerate(protos) if p in ("ip", "ipv6")), None)
    if idx is None:
        return "other", det
    l2 = [p for p in protos[:idx] if p not in PLAIN_L2]
    if l2:
        det["note"] = "outer IP reached via " + ":".join(protos[:idx])
    # The k-th ip (ipv6) layer's fields are the k-th occurrence of ip.* (ipv6.*).
    seen = collections.Counter()
    used = collections.Counter()
    depth = 0
    j = idx
    while True:
        name = protos[j]
        k = seen[name]
        seen[name] += 1
        more = False
        if name == "ip":
            if len(fr["ip.proto"]) <= k:
                det["note"] = "tshark could not dissect an IPv4 header"
                return "other", det
            nh = int(fr["ip.proto"][k])
            frag = (int(fr["ip.frag_offset"][k])
                    if len(fr["ip.frag_offset"]) > k else 0)
            more = (len(fr["ip.flags.mf"]) > k
                    and fr["ip.flags.mf"][k] in ("1", "True"))
            j += 1
        else:
            if len(fr["ipv6.nxt"]) <= k:
                det["note"] = "tshark could not dissect an IPv6 header"
                return "other", det
            nh = int(fr["ipv6.nxt"][k])
            frag = 0
            j += 1
            while j < len(protos) and protos[j] in IPV6_EXT_LAYERS:
                ext = protos[j]
                vals = fr[IPV6_EXT_LAYERS[ext]]
                if used[ext] < len(vals):
                    nh = int(vals[used[ext]])
                if ext == "ipv6.fraghdr":
                    offs = fr["ipv6.fraghdr.offset"]
                    if used[ext] < len(offs):
                        frag = int(offs[used[ext]])
                    mores = fr["ipv6.fraghdr.more"]
                    more = more or (used[ext] < len(mores) and
                                    mores[used[ext]] in ("1", "True"))
                    more = more or frag != 0
                used[ext] += 1
                j += 1
        if nh not in IP_IN_IP:
            break
        inner = protos[j] if j < len(protos) else None
        if frag or more:
            det["note"] = ("fragmented IP-in-IP (protocol %d): not looked"
                           " through" % nh)
            return "other", det
        if depth == IP_IN_IP_MAX_DEPTH:
            det["note"] = "IP-in-IP nested deeper than %d: other" % depth
            return "other", det
        if inner not in ("ip", "ipv6") or (inner == "ip") != (nh == 4):
            det["note"] = ("IP-in-IP (protocol %d) followed by %s: other"
                           % (nh, inner))
            return "other", det
        depth += 1
        det["note"] = ("IP-in-IP looked through (%d header%s), stack %s"
                       % (depth, "s" if depth > 1 else "",
                          ":".join(protos[idx:])))
    det["nh"], det["frag"] = nh, frag
    nxt = protos[j] if j < len(protos) else None
    ports = None
    # The first udp/tcp layer is the one after the deciding IP header: no transport layer
    # comes before it in the stack.
    if nh == 17 and nxt == "udp" and fr["udp.srcport"]:
        ports = (int(fr["udp.srcport"][0]), int(fr["udp.dstport"][0]))
    elif nh == 6 and nxt == "tcp" and fr["tcp.srcport"]:
        ports = (int(fr["tcp.srcport"][0]), int(fr["tcp.dstport"][0]))
    elif nh in (6, 17) and not frag:
        det["note"] = ("tshark did not dissect the %s header after the outer IP"
                       % ("UDP" if nh == 17 else "TCP"))
    det["ports"] = ports
    return l4_class(nh, frag, ports), det


def tshark_malformed(fr):
    if fr["_ws.malformed"]:
        return True
    return any(int(s) == SEV_ERROR for s in fr["_ws.expert.severity"] if s)


# --------------------------------------------------------------------------
# Raw-byte walk (second opinion)
# --------------------------------------------------------------------------

def read_capture(path):
    """Yields (linktype, caplen, bytes) for each packet; pcap or pcapng."""
    with open(path, "rb") as fh:
        data = fh.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1",
                 b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        linktype = struct.unpack(e + "I", data[20:24])[0] & 0x0FFFFFFF
        off = 24
        while off + 16 <= len(data):
            _, _, incl, _ = struct.unpack(e + "IIII", data[off:off + 16])
            off += 16
            yield linktype, e, incl, data[off:off + incl]
            off += incl
        return
    if magic != b"\x0a\x0d\x0d\x0a":
        raise ValueError("unknown capture format: " + path)
    off, e, ifaces = 0, "<", []
    while off + 12 <= len(data):
        btype = struct.unpack(e + "I", data[off:off + 4])[0]
        if btype == 0x0A0D0D0A:
            bom = data[off + 8:off + 12]
            e = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack(e + "I", data[off + 4:off + 8])[0]
        body = data[off + 8:off + blen - 4]
        if btype == 1:                                   # IDB
            ifaces.append(struct.unpack(e + "H", body[0:2])[0])
        elif btype == 6:                                 # EPB
            iface, _, _, caplen, _ = struct.unpack(e + "IIIII", body[:20])
            yield ifaces[iface], e, caplen, body[20:20 + caplen]
        elif btype == 3:                                 # SPB
            origlen = struct.unpack(e + "I", body[:4])[0]
            pkt = body[4:4 + origlen]
            yield ifaces[0], e, len(pkt), pkt
        elif btype == 2:                                 # obsolete PB
            iface, _, _, _, caplen, _ = struct.unpack(e + "HHIIII", body[:20])
            yield ifaces[iface], e, caplen, body[20:20 + caplen]
        off += blen


def raw_classify(linktype, endian, pkt):
    """Returns (class, note). Independent walk of the outer headers."""
    note = None
    ip_off, ver = None, None
    if linktype == 1:                                    # Ethernet
        if len(pkt) < 14:
            return "other", None
        et, off = struct.unpack(">H", pkt[12:14])[0], 14
        while et in (0x8100, 0x88A8, 0x9100) and len(pkt) >= off + 4:
            et, off = struct.unpack(">H", pkt[off + 2:off + 4])[0], off + 4
        if et == 0x8864 and len(pkt) >= off + 8:         # PPPoE session
            ppp = struct.unpack(">H", pkt[off + 6:off + 8])[0]
            et = {0x0021: 0x0800, 0x0057: 0x86DD}.get(ppp, 0)
            off += 8
            note = "raw: outer IP inside PPPoE"
        if et == 0x0800:
            ip_off, ver = off, 4
        elif et == 0x86DD:
            ip_off, ver = off, 6
    elif linktype in (0, 108):                           # BSD loopback
        if len(pkt) >= 4:
            fam = struct.unpack((">" if linktype == 108 else endian) + "I",
                                pkt[:4])[0]
            ip_off = 4
            ver = 4 if fam == 2 else 6 if fam in (10, 24, 28, 30) else None
    elif linktype in (12, 14, 101):                      # raw IP
        ip_off, ver = 0, (pkt[0] >> 4) if pkt else None
    elif linktype == 113 and len(pkt) >= 16:             # Linux SLL
        et = struct.unpack(">H", pkt[14:16])[0]
        ip_off, ver = 16, {0x0800: 4, 0x86DD: 6}.get(et)
    elif linktype == 276 and len(pkt) >= 20:             # Linux SLL2
        et = struct.unpack(">H", pkt[0:2])[0]
        ip_off, ver = 20, {0x0800: 4, 0x86DD: 6}.get(et)
    if ip_off is None or ver not in (4, 6):
        return "other", note
    ip = pkt[ip_off:]
    depth = 0
    while True:
        if ver == 4:
            if len(ip) < 20 or ip[0] >> 4 != 4 or (ip[0] & 15) < 5:
                return "other", "raw: bad/short IPv4 header"
            nh = ip[9]
            flags = struct.unpack(">H", ip[6:8])[0]
            frag, more = flags & 0x1FFF, bool(flags & 0x2000)
            total = struct.unpack(">H", ip[2:4])[0]
            l4 = ip[(ip[0] & 15) * 4:total]
        else:
            if len(ip) < 40 or ip[0] >> 4 != 6:
                return "other", "raw: bad/short IPv6 header"
            nh, off, frag, more = ip[6], 40, 0, False
            end = 40 + struct.unpack(">H", ip[4:6])[0]
            while nh in IPV6_EXT:
                if len(ip) < off + 8:
                    return l4_class(None, 0, None), "raw: truncated IPv6 ext hdr"
                if nh == 44:
                    fo = struct.unpack(">H", ip[off + 2:off + 4])[0]
                    frag, more = fo >> 3, more or bool(fo & 1)
                    nh, off = ip[off], off + 8
                elif nh == 51:
                    nh, off = ip[off], off + (ip[off + 1] + 2) * 4
                else:
                    nh, off = ip[off], off + (ip[off + 1] + 1) * 8
            l4 = ip[off:end]
        if nh not in IP_IN_IP:
            break
        if frag or more:
            return "other", "raw: fragmented IP-in-IP"
        if depth == IP_IN_IP_MAX_DEPTH:
            return "other", "raw: IP-in-IP nested too deep"
        depth += 1
        ip, ver = l4, 4 if nh == 4 else 6
        note = "raw: IP-in-IP looked through"
    ports = struct.unpack(">HH", l4[:4]) if len(l4) >= 4 else None
    return l4_class(nh, frag, ports), note


# --------------------------------------------------------------------------

def capinfos(path):
    out = subprocess.run(["capinfos", "-T", "-r", "-E", "-c", path],
                         capture_output=True, text=True, check=True).stdout
    cols = out.strip().split("\t")
    return cols[1], int(cols[2])


def process(root, rel, frames_out, problems):
    path = os.path.join(root, rel)
    encap, cap_frames = capinfos(path)
    classes = {c: {"packets": 0, "bytes": 0} for c in CLASSES}
    ts = {c: {"dissected": 0, "malformed": 0} for c in CLASSES if c != "other"}
    ts["other"] = {"malformed": 0}
    notes = []
    raw = list(read_capture(path))
    dlts = sorted({DLT_NAMES.get(lt, "DLT_%d" % lt) for lt, _, _, _ in raw})
    n = nbytes = 0
    for i, fr in enumerate(tshark_frames(path)):
        num = int(fr["frame.number"][0])
        caplen = int(fr["frame.cap_len"][0])
        cls, det = tshark_classify(fr)
        if i < len(raw):
            lt, e, rcap, pkt = raw[i]
            rcls, rnote = raw_classify(lt, e, pkt)
            if rcap != caplen:
                problems.append("%s frame %d: cap_len tshark %d raw %d"
                                % (rel, num, caplen, rcap))
        else:
            rcls, rnote = None, "raw reader has no such frame"
        if det["note"]:
            notes.append("frame %d: %s (class %s)" % (num, det["note"], cls))
        if rcls != cls:
            msg = ("frame %d: tshark says %s, raw walk says %s (%s); "
                   "tshark used" % (num, cls, rcls, rnote or "-"))
            notes.append(msg)
            problems.append(rel + " " + msg)
        classes[cls]["packets"] += 1
        classes[cls]["bytes"] += caplen
        mal = tshark_malformed(fr)
        if cls in TSHARK_PROTO and TSHARK_PROTO[cls] in det["protos"]:
            ts[cls]["dissected"] += 1
        if mal:
            ts[cls]["malformed"] += 1
        n += 1
        nbytes += caplen
        if frames_out:
            frames_out.write("%s\t%d\t%d\t%s\t%s\t%s\n" % (
                rel, num, caplen, cls, rcls, ":".join(det["protos"])))
    if n != cap_frames:
        problems.append("%s: tshark frames %d != capinfos %d"
                        % (rel, n, cap_frames))
    if n != len(raw):
        problems.append("%s: tshark frames %d != raw reader %d"
                        % (rel, n, len(raw)))
    if sum(c["packets"] for c in classes.values()) != cap_frames:
        problems.append("%s: class sum != capinfos frames" % rel)
    linktype = WTAP_TO_DLT.get(encap, encap)
    if dlts != [linktype]:
        problems.append("%s: capinfos encap %s vs header linktype %s"
                        % (rel, encap, dlts))
    entry = {"linktype": linktype, "encap": encap, "frames": n,
             "bytes": nbytes, "classes": classes, "tshark": ts}
    if notes:
        entry["notes"] = notes
    return entry


def main(argv):
    frames_path = None
    args = []
    it = iter(argv[1:])
    for a in it:
        if a == "--frames":
            frames_path = next(it)
        else:
            args.append(a)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    root = args[0] if args else os.path.join(repo, "..", "shared", "pcaps")
    root = os.path.normpath(root)
    rels = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in files:
            if f.endswith((".pcap", ".pcapng", ".cap")):
                rel = os.path.relpath(os.path.join(d, f), root)
                if not rel.startswith("ndpi/expected/"):
                    rels.append(rel)
    rels.sort()
    frames_out = open(frames_path, "w") if frames_path else None
    problems = []
    result = {"generated_by": "tests/integration/derive_expected.py with "
                              "TShark " + tshark_version(),
              "rule": "outermost IP only, IP-in-IP (4/41, unfragmented, at"
                      " most 2) looked through; proto 47 (IPv6: final next"
                      " header) -> gre; non-first fragment -> other; proto 115"
                      " -> l2tp; UDP dst then src port 123 ntp/161 snmp/162"
                      " snmp-trap/1701 l2tp/4754 gre; TCP dst then src port"
                      " 1701 l2tp/1723 pptp; else other; bytes = frame.cap_len",
              "captures": {}}
    for rel in rels:
        result["captures"][rel] = process(root, rel, frames_out, problems)
    if frames_out:
        frames_out.close()
    json.dump(result, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")
    for p in problems:
        sys.stderr.write("CHECK: " + p + "\n")
    sys.stderr.write("%d captures, %d frames, %d check messages\n" % (
        len(rels), sum(c["frames"] for c in result["captures"].values()),
        len(problems)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
