#!/usr/bin/env python3
"""Derives the expected tunnel tables of captures with TShark alone (no project code), for
test_tunnels.py: PPTP calls with their GRE frames, L2TP tunnels, GRE v0 tunnels.

    derive_tunnels_expected.py OUT.json CAPTURE...

Rules (the issue's): a PPTP call is keyed by the call ID its first request (OCRQ/ICRQ, TShark's
pptp.call_id) carried from its sender (the client) and the reply's (OCRP/ICRP) call ID from
the other side (the server), the reply naming the request's ID as pptp.peer_call_id; a GRE v1
frame belongs to the call whose receiver has the frame's gre.key.call_id; packets/bytes are the
call's GRE frames (captured lengths), both directions. An L2TP tunnel: the SCCRQ's sender is the
client, its assigned tunnel ID the client's; the SCCRP's assigned tunnel ID the server's
(l2tp.avp.assigned_tunnel_id); its packets are its control frames (l2tp.tunnel = the receiver's
ID), ZLB acks included. A GRE v0 tunnel: both directions of one address pair and key (gre.key,
none when absent), the first frame's sender the client.
"""
import json
import os
import subprocess
import sys


def tshark(path, display_filter, fields):
    cmd = ["tshark", "-r", path, "-Y", display_filter, "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [dict(zip(fields, line.split("\t"))) for line in out.splitlines()]


def src_dst(r):
    return (r["ip.src"] or r["ipv6.src"]), (r["ip.dst"] or r["ipv6.dst"])


ADDR = ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "frame.cap_len"]


def pptp_calls(path):
    calls = []
    for r in tshark(path, "pptp", ADDR + ["pptp.control_message_type", "pptp.call_id",
                                          "pptp.peer_call_id"]):
        src, dst = src_dst(r)
        t = int(r["pptp.control_message_type"] or 0)
        if t in (7, 9):  # OCRQ, ICRQ
            calls.append({"kind": "pptp-call", "client": src, "server": dst,
                          "client_id": int(r["pptp.call_id"]), "server_id": None,
                          "packets": 0, "bytes": 0})
        elif t in (8, 10):  # OCRP, ICRP
            for c in calls:
                if (c["client"], c["server"]) == (dst, src) and c["server_id"] is None and \
                        c["client_id"] == int(r["pptp.peer_call_id"]):
                    c["server_id"] = int(r["pptp.call_id"])
    for r in tshark(path, "gre.flags.version == 1", ADDR + ["gre.key.call_id"]):
        src, dst = src_dst(r)
        cid = int(r["gre.key.call_id"])
        for c in calls:
            if (dst, src, cid) == (c["server"], c["client"], c["server_id"]) or \
                    (dst, src, cid) == (c["client"], c["server"], c["client_id"]):
                c["packets"] += 1
                c["bytes"] += int(r["frame.cap_len"])
                break
    return calls


def l2tp_tunnels(path):
    tunnels = []
    for r in tshark(path, "l2tp && l2tp.type == 1", ADDR + [
            "l2tp.tunnel", "l2tp.avp.message_type", "l2tp.avp.assigned_tunnel_id"]):
        src, dst = src_dst(r)
        t = int(r["l2tp.avp.message_type"] or 0)
        assigned = r["l2tp.avp.assigned_tunnel_id"]
        if t == 1:  # SCCRQ
            tunnels.append({"kind": "l2tp-tunnel", "client": src, "server": dst,
                            "client_id": int(assigned), "server_id": None,
                            "packets": 0, "bytes": 0})
        elif t == 2:  # SCCRP: to the client's ID
            for c in tunnels:
                if (c["client"], c["server"], c["client_id"]) == (dst, src, int(r["l2tp.tunnel"])):
                    c["server_id"] = int(assigned)
        for c in tunnels:
            if (dst, src, int(r["l2tp.tunnel"])) == (c["server"], c["client"], c["server_id"]) or \
                    (dst, src, int(r["l2tp.tunnel"])) == (c["client"], c["server"], c["client_id"]) or \
                    (t == 1 and c is tunnels[-1] and (src, dst) == (c["client"], c["server"])):
                c["packets"] += 1
                c["bytes"] += int(r["frame.cap_len"])
                break
    return tunnels


def gre_tunnels(path):
    tunnels = {}
    for r in tshark(path, "gre.flags.version == 0", ADDR + ["gre.key"]):
        src, dst = src_dst(r)
        key = int(r["gre.key"], 0) if r["gre.key"] else None
        pair = (frozenset((src, dst)), key)
        t = tunnels.setdefault(pair, {"kind": "gre-tunnel", "client": src, "server": dst,
                                      "client_id": key, "server_id": key, "packets": 0,
                                      "bytes": 0})
        t["packets"] += 1
        t["bytes"] += int(r["frame.cap_len"])
    return list(tunnels.values())


def main():
    out_path, captures = sys.argv[1], sys.argv[2:]
    doc = {}
    for path in captures:
        name = os.path.basename(os.path.dirname(path)) + "/" + os.path.basename(path)
        doc[name] = pptp_calls(path) + l2tp_tunnels(path) + gre_tunnels(path)
    with open(out_path, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
