// Writes the seed corpus, fuzz/corpus/<target>/<name>: real requests, frames and
// names, and malformed ones (every refusal the unit tests know, plus edge cases).
//
//   node fuzz/seeds.mjs          # (re)writes the seeds; the files are committed
//
// The vsysd_* inputs start with the 9-byte slice header of fuzz/src/lib.rs
// (uid u32 LE, vnet address, vnet prefix), then the request bytes.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), 'corpus')

function slice(uid, vnet) {
  const [addr, prefix] = vnet.split('/')
  const h = Buffer.alloc(9)
  h.writeUInt32LE(uid, 0)
  for (const [i, o] of addr.split('.').entries()) h[4 + i] = Number(o)
  h[8] = Number(prefix)
  return h
}

const S1000 = slice(1000, '198.18.0.0/16')
const bytes = (s) => (Buffer.isBuffer(s) ? s : Buffer.from(s, 'utf8'))
const req = (s, h = S1000) => Buffer.concat([h, bytes(s)])

function write(target, seeds) {
  const dir = join(root, target)
  mkdirSync(dir, { recursive: true })
  for (const [name, data] of Object.entries(seeds)) writeFileSync(join(dir, name), data)
}

write('vsysd_vif_up', {
  'ok-pltap-request': req('tap1000-0\n198.18.0.1\n24\n'),
  'ok-tun-no-final-newline': req('tun1000-12\n198.18.255.254\n16'),
  'ok-blanks-around': req(' tap1000-0 \n 198.18.0.1\n24 \n\n\n'),
  'ok-options': req('tap1000-0\n198.18.0.1\n24\nrp_filter=0\ntxqueuelen=500\nmtu=1400\n'),
  'ok-option-edges': req('tap1000-0\n198.18.0.1\n24\nrp_filter=1\ntxqueuelen=1\ntxqueuelen=10000\nmtu=65535\n'),
  'ok-noted-options': req('tap1000-0\n198.18.0.1\n24\nsnat=1\ndropkern=0\nvswitch=br0\nremote=192.0.2.1\n'),
  'ok-uid754': req('tap754-0\n198.18.0.1\n24\n', slice(754, '198.18.0.0/16')),
  'ok-wide-vnet': req('tap0-0\n198.19.255.254\n15\n', slice(0, '198.18.0.0/15')),
  'ok-host-vnet': req('tun1-3\n198.18.0.9\n32\n', slice(1, '198.18.0.9/32')),
  'ok-max-uid': req('tap4294967295-1\n198.18.0.1\n8\n', slice(4294967295, '0.0.0.0/0')),
  'bad-empty': req(''),
  'bad-two-lines': req('tap1000-0\n198.18.0.1\n'),
  'bad-name-16-bytes': req('tap1000-01234567\n198.18.0.1\n24\n'),
  'bad-other-uid': req('tap1001-0\n198.18.0.1\n24\n'),
  'bad-uid-prefix': req('tap10000-0\n198.18.0.1\n24\n'),
  'bad-name-suffix': req('tap1000-0x\n198.18.0.1\n24\n'),
  'bad-name-semicolon': req('tap1000-0;\n198.18.0.1\n24\n'),
  'bad-name-no-number': req('tap1000-\n198.18.0.1\n24\n'),
  'bad-eth': req('eth1000-0\n198.18.0.1\n24\n'),
  'bad-ip-short': req('tap1000-0\n198.18.0\n24\n'),
  'bad-ip-256': req('tap1000-0\n198.18.0.256\n24\n'),
  'bad-ip-hex': req('tap1000-0\n0xc6120001\n24\n'),
  'bad-ip-leading-zero': req('tap1000-0\n198.018.0.1\n24\n'),
  'bad-ip-outside': req('tap1000-0\n198.20.0.1\n24\n'),
  'bad-netmask-7': req('tap1000-0\n198.18.0.1\n7\n'),
  'bad-netmask-33': req('tap1000-0\n198.18.0.1\n33\n'),
  'bad-netmask-text': req('tap1000-0\n198.18.0.1\nabc\n'),
  'bad-netmask-negative': req('tap1000-0\n198.18.0.1\n-1\n'),
  'bad-netmask-wider': req('tap1000-0\n198.18.0.1\n15\n'),
  'bad-netmask-long': req('tap1000-0\n198.18.0.1\n0000000024\n'),
  'bad-option-unknown': req('tap1000-0\n198.18.0.1\n24\nfoo=1\n'),
  'bad-option-no-value': req('tap1000-0\n198.18.0.1\n24\nsnat\n'),
  'bad-option-two-equals': req('tap1000-0\n198.18.0.1\n24\na=b=c\n'),
  'bad-rp-filter': req('tap1000-0\n198.18.0.1\n24\nrp_filter=2\n'),
  'bad-txqueuelen': req('tap1000-0\n198.18.0.1\n24\ntxqueuelen=10001\n'),
  'bad-mtu': req('tap1000-0\n198.18.0.1\n24\nmtu=65536\n'),
  'bad-snat': req('tap1000-0\n198.18.0.1\n24\nsnat=yes\n'),
  'bad-pointopoint': req('tap1000-0\n198.18.0.1\n24\npointopoint=1.2.3\n'),
  'bad-pointopoint-unsupported': req('tap1000-0\n198.18.0.1\n24\npointopoint=198.18.0.2\n'),
  'bad-gre': req('tap1000-0\n198.18.0.1\n24\ngre=yes\npointopoint=198.18.0.2\nremote=192.0.2.1\n'),
  'bad-gre-no-remote': req('tap1000-0\n198.18.0.1\n24\ngre=yes\npointopoint=198.18.0.2\n'),
  'bad-crlf': req('tap1000-0\r\n198.18.0.1\r\n24\r\n'),
  'bad-tab': req('tap1000-0\t\n198.18.0.1\n24\n'),
  'bad-nul': req('tap1000-0\0\n198.18.0.1\n24\n'),
  'bad-escape': req('tap1000-0\n198.18.0.1\x1b[2J\n24\n'),
  'bad-del': req('tap1000-0\n198.18.0.1\n24\u007f\n'),
  'bad-c1-nel': req('tap1000-0\n198.18.0.1\n24\n\u0085\n'),
  'bad-not-utf8': req(Buffer.from([...Buffer.from('tap1000-0\n'), 0xff, ...Buffer.from('\n24\n')])),
  'bad-injected-line': req('tap1000-0\n198.18.0.1\n24\nsnat=1\nmtu=9\nrp_filter=0\nfoo=bar\n'),
})

write('vsysd_vif_down', {
  'ok-pltap-request': req('tap1000-0\n'),
  'ok-delete': req('tun1000-7\ndelete=1\n'),
  'ok-delete-0': req('tun1000-7\ndelete=0\n\n'),
  'ok-no-newline': req('tap1000-3'),
  'bad-empty': req(''),
  'bad-delete-2': req('tap1000-0\ndelete=2\n'),
  'bad-option-unknown': req('tap1000-0\nfoo=1\n'),
  'bad-option-no-value': req('tap1000-0\nfoo\n'),
  'bad-name-16-bytes': req('tap1000-01234567\n'),
  'bad-other-uid': req('tap1-0\n'),
  'bad-two-numbers': req('tap1000-0-1\n'),
  'bad-lo': req('lo\n'),
  'bad-eth0': req('eth0\n'),
  'bad-control': req('tap1000-0\n\x01\n'),
  'bad-not-utf8': req(Buffer.from([0x74, 0x61, 0x70, 0xc3, 0x28, 0x0a])),
})

write('vsysd_promisc', {
  'ok-on': req('tap1000-0\n'),
  'ok-off': req('tap1000-0\n-\n'),
  'ok-off-no-newline': req('tap1000-0\n-'),
  'ok-on-three-lines': req('tap1000-0\n-\n\n'),
  'ok-on-plus': req('tap1000-0\n+\n'),
  'ok-tun-off': req('tun1000-1\n-\n'),
  // The target takes the device's address from the last 4 request bytes unless the
  // request ends with a newline (then it has none, as before vif_up): "12.3" is
  // 49.50.46.51, inside 49.50.0.0/16; "-0\n+" is 45.48.10.43, outside it.
  'ok-addr-inside': req('tun1000-5\n12.3', slice(1000, '49.50.0.0/16')),
  'ok-addr-outside': req('tap1000-0\n+', slice(1000, '49.50.0.0/16')),
  'bad-empty': req(''),
  'bad-name-16-bytes': req('tap1000-01234567\n'),
  'bad-eth0': req('eth0\n'),
  'bad-lo-off': req('lo\n-\n'),
  'bad-bell': req('tap1000-0\x07\n'),
})

// Arbitrary bytes: the target draws its values from them.
const counter = Buffer.alloc(96)
for (let i = 0; i < counter.length; i++) counter[i] = (i * 37 + 11) & 0xff
write('vsys_request_roundtrip', {
  zeros: Buffer.alloc(64),
  ones: Buffer.alloc(64, 0xff),
  counter,
  'ascii-request': Buffer.from('tap1000-0\n198.18.0.1\n24\nrp_filter=0\ntxqueuelen=500\nmtu=1400\n'),
})

const ifr = (s) => {
  const b = Buffer.alloc(16)
  b.write(s, 'utf8')
  return b
}
write('ifname', {
  'ok-tap1000-0': bytes('tap1000-0'),
  'ok-template': bytes('tap%d'),
  'ok-lo': bytes('lo'),
  'ok-15-bytes': bytes('123456789012345'),
  'ok-vlan': bytes('br_0.100'),
  'ok-ifr-name': ifr('tap7-3'),
  'ok-ifr-15': Buffer.concat([Buffer.from('tun4294967295-1'), Buffer.alloc(1)]),
  'bad-empty': bytes(''),
  'bad-dot': bytes('.'),
  'bad-dotdot': bytes('..'),
  'bad-slash': bytes('tap/0'),
  'bad-colon': bytes('eth0:1'),
  'bad-newline': bytes('tap\n0'),
  'bad-space': bytes('ta p'),
  'bad-nul-inside': bytes('tap\0x'),
  'bad-16-bytes': bytes('1234567890123456'),
  'bad-two-templates': bytes('%d%d'),
  'bad-percent-s': bytes('tap%s'),
  'bad-nbsp': bytes('tap\u00a00'),
  'bad-nel': bytes('\u0085x'),
  'bad-not-utf8': Buffer.from([0x74, 0x61, 0x70, 0xff, 0x00]),
  'bad-ifr-no-nul': Buffer.from('tap0123456789abcdef'),
})

write('ipv4', {
  'ok-ip': bytes('198.18.0.1'),
  'ok-any': bytes('0.0.0.0'),
  'ok-broadcast': bytes('255.255.255.255'),
  'ok-prefix-1': bytes('1'),
  'ok-prefix-24': bytes('24'),
  'ok-prefix-32': bytes('32'),
  'ok-vnet': bytes('198.18.0.0/16'),
  'ok-vnet-0': bytes('0.0.0.0/0'),
  'bad-ip-short': bytes('1.2.3'),
  'bad-ip-long': bytes('1.2.3.4.5'),
  'bad-ip-256': bytes('256.0.0.1'),
  'bad-ip-leading-zero': bytes('198.018.0.1'),
  'bad-ip-hex': bytes('0x1.2.3.4'),
  'bad-ip-space': bytes(' 1.2.3.4'),
  'bad-ip-newline': bytes('1.2.3.4\n'),
  'bad-ip-arabic-digit': bytes('\u0661.2.3.4'),
  'bad-ip-plus': bytes('+1.2.3.4'),
  'bad-prefix-0': bytes('0'),
  'bad-prefix-33': bytes('33'),
  'bad-prefix-leading-zero': bytes('024'),
  'bad-prefix-dotted': bytes('255.255.255.0'),
  'bad-prefix-sign': bytes('+24'),
  'bad-vnet-33': bytes('198.18.0.0/33'),
  'bad-vnet-no-prefix': bytes('198.18.0.0'),
  'bad-vnet-empty-prefix': bytes('198.18.0.0/'),
  'bad-vnet-sign': bytes('198.18.0.0/+1'),
  'bad-vnet-three-digits': bytes('198.18.0.0/016'),
  'bad-vnet-leading-zero': bytes('198.18.0.0/08'),
  'bad-vnet-00': bytes('198.18.0.0/00'),
  'ok-net-new-24-i64-le-8': Buffer.from([198, 18, 0, 1, 24, 0, 0, 0]),
  'bad-net-new-33': Buffer.from([198, 18, 0, 1, 33]),
  'bad-prefix-i64-min': Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x80]),
  'bad-prefix-negative': bytes('-1'),
  'bad-prefix-huge': bytes('4294967320'),
  'bad-vnet-short-ip': bytes('198.18.0/16'),
})

const arp = Buffer.from(
  [
    '00000806', // tun_pi: flags 0, proto ARP
    'ffffffffffff020000000001' + '0806', // Ethernet: broadcast, from 02:00:00:00:00:01, ARP
    '0001080006040001', // ARP request header
  ].join(''),
  'hex',
)
const strip = Buffer.from(arp)
strip.writeUInt16LE(1, 0) // TUN_PKT_STRIP (host order on x86-64)
write('tun_pi', {
  'rx-arp-with-pi': arp,
  'rx-stripped': strip,
  'tun-ipv4': Buffer.from([0x00, 0x00, 0x08, 0x00, 0x45, 0x00, 0x00, 0x14, 0, 0, 0, 0, 64, 1, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2]),
  'tun-ipv6': Buffer.from([0x60, 0, 0, 0, 0, 0, 59, 64]),
  'tap-frame-no-pi': arp.subarray(4),
  'mtu-1500': Buffer.from([0xdc, 0x05, 0x00, 0x00]),
  'mtu-max': Buffer.from([0xff, 0xff, 0xff, 0xff]),
  'runt-3': Buffer.from([0x08, 0x06, 0x00]),
  empty: Buffer.alloc(0),
})

// vsys_fd_tuntap_reply: byte 0 = outcome (bit 7 MSG_CTRUNC; 0/1 descriptors, 64 + k for
// 2 + k), then the payload (fuzz/src/lib.rs split_reply).
const reply = (fds, payload, truncated = false) =>
  Buffer.concat([Buffer.from([(fds < 2 ? fds : fds + 62) | (truncated ? 0x80 : 0)]), bytes(payload)])
write('vsys_fd_tuntap_reply', {
  'ok-device-tap': reply(1, 'tap1000-0\0'),
  'ok-device-tun': reply(1, 'tun7-12345678\0'),
  'ok-device-15-bytes': reply(1, 'abcdefghijklmno\0'),
  'ok-refused': reply(0, 'refused: uid 1001 may not allocate devices for slice 1000\n'),
  'ok-refused-two-lines': reply(0, 'refused: no\n\tsecond line\n'),
  'ok-refused-newlines-only': reply(0, '\n\n'),
  'ok-closed-silently': reply(0, ''),
  'ok-refused-max': reply(0, `${'r'.repeat(1023)}\n`),
  'bad-refused-too-long': reply(0, `${'r'.repeat(1024)}\n`),
  'bad-refused-no-newline': reply(0, 'refused: no'),
  'bad-refused-escape': reply(0, 'refused: \u001b[31mred\n'),
  'bad-refused-not-utf8': reply(0, Buffer.from([0x72, 0xff, 0x0a])),
  'bad-name-without-fd': reply(0, 'tap1000-0\0'),
  'bad-fd-without-name': reply(1, ''),
  'bad-fd-nul-only': reply(1, '\0'),
  'bad-name-no-nul': reply(1, 'tap1000-0'),
  'bad-name-two-nuls': reply(1, 'tap1000-0\0\0'),
  'bad-name-16-bytes': reply(1, 'abcdefghijklmnop\0'),
  'bad-name-template': reply(1, 'tap%d\0'),
  'bad-name-slash': reply(1, 'tap/0\0'),
  'bad-name-not-utf8': reply(1, Buffer.from([0x74, 0xff, 0x00])),
  'bad-two-fds': reply(2, 'tap1000-0\0'),
  'bad-three-fds': reply(3, 'tap1000-0\0'),
  'bad-many-fds': reply(65, ''),
  'bad-ctrunc': reply(1, 'tap1000-0\0', true),
  'bad-ctrunc-refusal': reply(0, 'refused: no\n', true),
})

// vsysd_fd_tuntap_request: the 4 bytes a slice sends (native-endian i32; x86-64 is LE).
const i32 = (n) => {
  const b = Buffer.alloc(4)
  b.writeInt32LE(n, 0)
  return b
}
write('vsysd_fd_tuntap_request', {
  'ok-tun': i32(1),
  'ok-tap': i32(2),
  'bad-zero': i32(0),
  'bad-tun-tap': i32(3),
  'bad-tap-no-pi': i32(0x1002),
  'bad-tun-no-pi': i32(0x1001),
  'bad-minus-one': i32(-1),
  'bad-big-endian-tap': Buffer.from([0, 0, 0, 2]),
  'bad-short': Buffer.from([2, 0]),
  'bad-long': Buffer.from([2, 0, 0, 0, 0]),
  'bad-empty': Buffer.alloc(0),
  'bad-text': bytes('tap\n'),
  'bad-control-text': bytes('\u001b[2J\r\n\t'),
})

// vnet: mode byte (bit 0 TUN, bit 1 USO), MTU u16 LE, the 10-byte virtio-net header
// (LE), the frame. Frames are built here with their own checksums (the seed, i.e. the
// folded pseudo-header sum, in the L4 field of NEEDS_CSUM frames).
function sum16(...bufs) {
  let s = 0
  const all = Buffer.concat(bufs)
  for (let i = 0; i < all.length; i += 2) s += (all[i] << 8) | (i + 1 < all.length ? all[i + 1] : 0)
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16)
  return s
}
const be16 = (n) => Buffer.from([(n >> 8) & 0xff, n & 0xff])
const be32 = (n) => Buffer.from([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
const SRC4 = Buffer.from([198, 18, 0, 1])
const DST4 = Buffer.from([198, 18, 0, 2])
const SRC6 = Buffer.from('fe800000000000000000000000000001', 'hex')
const DST6 = Buffer.from('fe800000000000000000000000000002', 'hex')

function vnetFrame({
  tun = false,
  tags = [],
  v6 = false,
  ext = [],
  udp = false,
  flags = 0x10,
  opts = [],
  len = 0,
  id = 0x1234,
  seed = true,
  tail = [],
}) {
  const proto = udp ? 17 : 6
  const pay = Buffer.from(Array.from({ length: len }, (_, i) => (i * 31 + 7) & 0xff))
  let l4
  if (udp) {
    l4 = Buffer.concat([be16(40000), be16(5201), be16(8 + len), be16(0), pay])
  } else {
    const o = Buffer.from(opts)
    const hdr = Buffer.concat([
      be16(40000),
      be16(5201),
      be32(1000),
      be32(77),
      Buffer.from([((20 + o.length) / 4) << 4, flags]),
      be16(502),
      be16(0),
      be16(0),
      o,
    ])
    l4 = Buffer.concat([hdr, pay])
  }
  const at = udp ? 6 : 16
  const pseudo = v6
    ? Buffer.concat([SRC6, DST6, be32(l4.length), Buffer.from([0, 0, 0, proto])])
    : Buffer.concat([SRC4, DST4, Buffer.from([0, proto]), be16(l4.length)])
  let c = seed ? sum16(pseudo) : ~sum16(pseudo, l4) & 0xffff
  if (!seed && udp && c === 0) c = 0xffff
  be16(c).copy(l4, at)
  let ip
  if (v6) {
    const exts = ext.map((_nh, i) => Buffer.from([ext[i + 1] ?? proto, 0, 1, 4, 0, 0, 0, 0]))
    ip = Buffer.concat([be32(0x60000000), be16(exts.length * 8 + l4.length), Buffer.from([ext[0] ?? proto, 64]), SRC6, DST6, ...exts])
  } else {
    ip = Buffer.concat([
      Buffer.from([0x45, 0]),
      be16(20 + l4.length),
      be16(id),
      be16(0x4000),
      Buffer.from([64, proto]),
      be16(0),
      SRC4,
      DST4,
    ])
    be16(~sum16(ip) & 0xffff).copy(ip, 10)
  }
  const l2 = tun
    ? Buffer.alloc(0)
    : Buffer.concat([
        Buffer.from('020000000002020000000001', 'hex'),
        ...tags.map(([tpid, tci]) => Buffer.concat([be16(tpid), be16(tci)])),
        be16(v6 ? 0x86dd : 0x0800),
      ])
  return {
    frame: Buffer.concat([l2, ip, l4, Buffer.from(tail)]),
    l4: l2.length + ip.length,
    hl: l2.length + ip.length + (udp ? 8 : 20 + opts.length),
  }
}

function vnetSeed({ mode = 0, mtu = 1500, hdr = {}, gso = 0, gsoSize = 0, csum = true, ...spec }) {
  const { frame, l4, hl } = vnetFrame(spec)
  const h = Buffer.alloc(10)
  h[0] = hdr.flags ?? (csum ? 1 : 0)
  h[1] = hdr.gsoType ?? gso
  h.writeUInt16LE(hdr.hdrLen ?? (csum || gso ? hl : 0), 2)
  h.writeUInt16LE(hdr.gsoSize ?? gsoSize, 4)
  h.writeUInt16LE(hdr.csumStart ?? (csum ? l4 : 0), 6)
  h.writeUInt16LE(hdr.csumOffset ?? (csum ? (spec.udp ? 6 : 16) : 0), 8)
  const m = Buffer.alloc(3)
  m[0] = mode
  m.writeUInt16LE(mtu, 1)
  return Buffer.concat([m, h, frame])
}

const TS = [1, 1, 8, 10, 0, 0, 0x12, 0x34, 0, 0, 0x56, 0x78]
write('vnet', {
  'ok-tap-tcp4-gso': vnetSeed({ gso: 1, gsoSize: 400, len: 1100 }),
  'ok-tap-tcp4-ts-psh-fin': vnetSeed({ gso: 1, gsoSize: 300, len: 1000, flags: 0x19, opts: TS }),
  'ok-tap-tcp4-small-mss': vnetSeed({ gso: 1, gsoSize: 8, len: 200, mtu: 60 }),
  'ok-tap-tcp6-hbh-dstopts': vnetSeed({ gso: 4, gsoSize: 500, len: 1200, v6: true, ext: [0, 60] }),
  'ok-tap-qinq-tcp6-ecn-cwr': vnetSeed({
    gso: 0x84,
    gsoSize: 300,
    len: 900,
    v6: true,
    flags: 0xd0,
    tags: [
      [0x88a8, 1],
      [0x8100, 2],
    ],
  }),
  'ok-tap-vlan-tcp4': vnetSeed({ gso: 1, gsoSize: 700, len: 1500, tags: [[0x8100, 100]] }),
  'ok-tun-tcp4': vnetSeed({ mode: 1, gso: 1, gsoSize: 512, len: 1400, tun: true }),
  'ok-tun-udp6-uso': vnetSeed({ mode: 3, gso: 5, gsoSize: 333, len: 1000, tun: true, v6: true, udp: true }),
  'ok-tap-udp4-uso': vnetSeed({ mode: 2, gso: 5, gsoSize: 250, len: 1000, udp: true }),
  'ok-tap-ack-needs-csum': vnetSeed({}),
  'ok-tap-udp6-needs-csum': vnetSeed({ v6: true, udp: true, len: 77 }),
  'ok-tap-plain-tcp4': vnetSeed({ csum: false, seed: false, len: 100 }),
  'ok-tap-arp': Buffer.concat([
    Buffer.from([0, 0xdc, 5]),
    Buffer.alloc(10),
    Buffer.from('ffffffffffff0200000000010806', 'hex'),
    Buffer.alloc(28),
  ]),
  'bad-gso-size-0': vnetSeed({ gso: 1, gsoSize: 0, len: 1000 }),
  'bad-csum-start-in-ip-header': vnetSeed({ gso: 1, gsoSize: 400, len: 1000, hdr: { csumStart: 24 } }),
  'bad-data-valid': vnetSeed({ gso: 1, gsoSize: 400, len: 1000, hdr: { flags: 3 } }),
  'bad-ufo': vnetSeed({ gso: 3, gsoSize: 400, len: 1000, udp: true, mode: 2 }),
  'bad-uso-not-enabled': vnetSeed({ gso: 5, gsoSize: 250, len: 1000, udp: true }),
  'bad-trailing-bytes': vnetSeed({ gso: 1, gsoSize: 400, len: 1000, tail: [0, 0, 0, 0] }),
  'bad-above-mtu': vnetSeed({ gso: 1, gsoSize: 1461, len: 3000, mtu: 1500 }),
  'bad-tcpv6-on-ipv4': vnetSeed({ gso: 4, gsoSize: 400, len: 1000 }),
  'bad-syn-gso': vnetSeed({ gso: 1, gsoSize: 400, len: 1000, flags: 0x12 }),
})
