# Kernel-as-oracle golden bytes for tests/offload_kernel_golden.rs: write a super-frame
# with a vnet header into tapW, bridged to tapR (no vnet header, no offload): the kernel
# segments it and completes checksums; print the input and the kernel's segments as
# JSON hex. Root, and ALWAYS in a private network namespace (it creates br0/tapW/tapR):
#
#   unshare -n python3 crates/pltap-core/tests/offload_kernel_oracle.py > golden.json
#
# Frames whose source MAC is not 02:00:00:00:00:01 (the bridge's IGMP reports) are not
# ours: drop them when freezing.
import fcntl, os, struct, select, subprocess, json, sys

TUNSETIFF = 0x400454ca
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR = 0x2, 0x1000, 0x4000

def sh(*a):
    subprocess.run(a, check=True)

def tap(name, flags):
    fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH22x', name.encode(), flags))
    return fd

def csum_sum(b):
    if len(b) % 2: b = b + b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s > 0xffff: s = (s & 0xffff) + (s >> 16)
    return s

SRC4, DST4 = bytes([198, 18, 0, 1]), bytes([198, 18, 0, 2])
SRC6 = bytes.fromhex('fe800000000000000000000000000001')
DST6 = bytes.fromhex('fe800000000000000000000000000002')
MACS = bytes.fromhex('020000000002020000000001')

def frame(tags=(), v6=False, ext=(), udp=False, flags=0x10, opts=b'', pay=b'', ip_id=0x1234, seq=1000, tos=0):
    proto = 17 if udp else 6
    if udp:
        l4 = struct.pack('!HHHH', 40000, 5201, 8 + len(pay), 0) + pay
        at = 6
    else:
        l4 = struct.pack('!HHIIBBHHH', 40000, 5201, seq, 77, ((20 + len(opts)) // 4) << 4, flags, 502, 0, 0) + opts + pay
        at = 16
    if v6:
        pseudo = SRC6 + DST6 + struct.pack('!IxxxB', len(l4), proto)
    else:
        pseudo = SRC4 + DST4 + struct.pack('!xBH', proto, len(l4))
    seed = csum_sum(pseudo)
    l4 = l4[:at] + struct.pack('!H', seed) + l4[at + 2:]
    if v6:
        exts = b''
        for i, nh in enumerate(ext):
            nxt = ext[i + 1] if i + 1 < len(ext) else proto
            exts += bytes([nxt, 0, 1, 4, 0, 0, 0, 0])
        first = ext[0] if ext else proto
        ip = struct.pack('!IHBB', (6 << 28) | (tos << 20), len(exts) + len(l4), first, 64) + SRC6 + DST6 + exts
    else:
        ip = struct.pack('!BBHHHBBH', 0x45, tos, 20 + len(l4), ip_id, 0x4000, 64, proto, 0) + SRC4 + DST4
        c = (~csum_sum(ip)) & 0xffff
        ip = ip[:10] + struct.pack('!H', c) + ip[12:]
    l2 = MACS + b''.join(struct.pack('!HH', t, c) for t, c in tags) + struct.pack('!H', 0x86dd if v6 else 0x0800)
    f = l2 + ip + l4
    l4off = len(l2) + len(ip)
    hl = l4off + (8 if udp else 20 + len(opts))
    return f, l4off, hl

def pay(n, salt):
    return bytes(((i * 31 + salt) & 0xff) for i in range(n))

TS = bytes([1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78])

def udp_zero_payload():
    # 8 bytes in 4-byte datagrams; the second datagram's checksum computes to 0.
    p = bytearray(pay(8, 1))
    p[6] = p[7] = 0
    l4 = struct.pack('!HHHH', 40000, 5201, 12, 0) + bytes(p[4:])
    pseudo = SRC4 + DST4 + struct.pack('!xBH', 17, 12)
    partial = csum_sum(pseudo + l4)
    w = 0xffff - partial
    p[6:8] = struct.pack('!H', w)
    return bytes(p)

CASES = [
    ('ipv4_tcp_psh_fin_wrap', dict(flags=0x19, ip_id=0xffff, seq=0xfffffff8, pay=pay(20, 1)), 1, 8),
    ('ipv4_tcp_timestamps', dict(opts=TS, flags=0x18, pay=pay(30, 2)), 1, 12),
    ('ipv4_tcp_ecn_cwr', dict(flags=0xd0, pay=pay(20, 3)), 0x81, 8),
    ('ipv6_tcp_hop_by_hop', dict(v6=True, ext=(0,), flags=0x18, pay=pay(20, 4)), 4, 8),
    ('vlan_ipv4_tcp', dict(tags=((0x8100, 100),), pay=pay(20, 5)), 1, 8),
    ('qinq_ipv6_tcp', dict(tags=((0x88a8, 1), (0x8100, 2)), v6=True, pay=pay(20, 6)), 4, 8),
    ('ipv4_udp_uso_zero_checksum', dict(udp=True, pay=udp_zero_payload()), 5, 4),
    ('ipv6_udp_uso', dict(udp=True, v6=True, pay=pay(25, 7)), 5, 10),
    ('ipv4_tcp_ack_needs_csum', dict(pay=b''), 0, 0),
    ('ipv6_udp_needs_csum', dict(udp=True, v6=True, pay=pay(9, 8)), 0, 0),
]

def main():
    for k in ('all', 'default'):
        with open(f'/proc/sys/net/ipv6/conf/{k}/disable_ipv6', 'w') as f: f.write('1')
    w = tap('tapW', IFF_TAP | IFF_NO_PI | IFF_VNET_HDR)
    r = tap('tapR', IFF_TAP | IFF_NO_PI)
    sh('ip', 'link', 'add', 'br0', 'type', 'bridge')
    for d in ('tapW', 'tapR'):
        sh('ip', 'link', 'set', d, 'master', 'br0')
        sh('ip', 'link', 'set', d, 'up')
    sh('ip', 'link', 'set', 'br0', 'up')
    out = []
    for name, spec, gso, gso_size in CASES:
        f, l4, hl = frame(**spec)
        hdr = struct.pack('<BBHHHH', 1, gso, hl, gso_size, l4, 6 if spec.get('udp') else 16)
        # drain
        while True:
            try: os.read(r, 70000)
            except BlockingIOError: break
        os.write(w, hdr + f)
        segs = []
        while True:
            rd, _, _ = select.select([r], [], [], 1.0)
            if not rd: break
            segs.append(os.read(r, 70000).hex())
        out.append(dict(name=name, hdr=hdr.hex(), frame=f.hex(), segments=segs))
    json.dump(out, sys.stdout, indent=1)

main()
