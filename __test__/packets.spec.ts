// Tier (a), pure: the frame helpers of ts/cli/packets.ts, which `pltap demo` answers pings
// with and the device tests build and read frames with. The expected bytes here are written
// out by hand (computed apart from this code), never built with the functions under test:
// everywhere else a frame these helpers build is checked by the kernel, here only by these.
import test from 'ava'
import { arpFrame, arpReply, icmpEchoReply, inetChecksum, ipBytes, macBytes, macString, parseArp } from '../ts/cli/packets.ts'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

// "Who has 198.18.0.1? Tell 198.18.0.2 (02:00:c6:12:00:02)", broadcast.
const ARP_REQUEST = hex(`
  ffffffffffff 0200c6120002 0806
  0001 0800 06 04 0001 0200c6120002 c6120002 000000000000 c6120001`)
// "198.18.0.1 is at 02:00:c6:12:00:01", back to the asker.
const ARP_REPLY = hex(`
  0200c6120002 0200c6120001 0806
  0001 0800 06 04 0002 0200c6120001 c6120001 0200c6120002 c6120002`)
// An echo request from 198.18.0.2 to 198.18.0.1 (TTL 63, id 1, seq 7, 8 bytes of data)...
const ECHO_REQUEST = hex(`
  0200c6120001 0200c6120002 0800
  4500 0024 1234 4000 3f 01 9d7d c6120002 c6120001
  08 00 81fe 0001 0007 706c74617021210a`)
// ...and its reply: addresses swapped, TTL 64, type 0, both checksums recomputed.
const ECHO_REPLY = hex(`
  0200c6120002 0200c6120001 0800
  4500 0024 1234 4000 40 01 9c7d c6120001 c6120002
  00 00 89fe 0001 0007 706c74617021210a`)

test('inetChecksum: the RFC 1071 example, an odd length, and an IPv4 header', (t) => {
  t.is(inetChecksum(hex('0001 f203 f4f5 f6f7')), 0x220d) // RFC 1071 §3: the sum is 0xddf2
  t.is(inetChecksum(hex('0001 f203 f4f5 f6')), 0x2304) // the last byte counts as f600
  const header = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7')
  t.is(inetChecksum(header), 0xb861)
  header.writeUInt16BE(0xb861, 10)
  t.is(inetChecksum(header), 0, 'a header with its checksum in place sums to zero')
})

test('addresses: dotted quads and MACs to bytes and back', (t) => {
  t.deepEqual(ipBytes('198.18.0.255'), hex('c61200ff'))
  t.deepEqual(macBytes('02:00:C6:12:00:ff'), hex('0200c61200ff'))
  t.is(macString(hex('0200c61200ff')), '02:00:c6:12:00:ff')
})

test('arpFrame builds, and parseArp reads, the golden request and reply', (t) => {
  t.deepEqual(arpFrame(1, 'ff:ff:ff:ff:ff:ff', '02:00:c6:12:00:02', '198.18.0.2', '00:00:00:00:00:00', '198.18.0.1'), ARP_REQUEST)
  t.deepEqual(arpFrame(2, '02:00:c6:12:00:02', '02:00:c6:12:00:01', '198.18.0.1', '02:00:c6:12:00:02', '198.18.0.2'), ARP_REPLY)
  t.deepEqual(parseArp(ARP_REQUEST), {
    op: 1,
    senderMac: '02:00:c6:12:00:02',
    senderIp: '198.18.0.2',
    targetMac: '00:00:00:00:00:00',
    targetIp: '198.18.0.1',
  })
  t.is(parseArp(ARP_REPLY)?.op, 2)
})

test('parseArp refuses what is not Ethernet/IPv4 ARP', (t) => {
  t.is(parseArp(ARP_REQUEST.subarray(0, 41)), null, 'too short')
  t.is(parseArp(ECHO_REQUEST), null, 'IPv4, not ARP')
  const ipv6 = Buffer.from(ARP_REQUEST)
  ipv6.writeUInt16BE(0x86dd, 16) // protocol type
  t.is(parseArp(ipv6), null)
})

test('arpReply answers a request for its address only', (t) => {
  t.deepEqual(arpReply(ARP_REQUEST, '198.18.0.1', '02:00:c6:12:00:01'), ARP_REPLY)
  t.is(arpReply(ARP_REQUEST, '198.18.0.9', '02:00:c6:12:00:01'), null, 'another address')
  t.is(arpReply(ARP_REPLY, '198.18.0.2', '02:00:c6:12:00:02'), null, 'a reply is not answered')
  // Ethernet padding to the 60-byte minimum (as the kernel sends it) changes nothing.
  t.deepEqual(arpReply(Buffer.concat([ARP_REQUEST, Buffer.alloc(18)]), '198.18.0.1', '02:00:c6:12:00:01'), ARP_REPLY)
})

test('icmpEchoReply answers an echo request to its address with the golden reply', (t) => {
  t.deepEqual(icmpEchoReply(ECHO_REQUEST, '198.18.0.1'), ECHO_REPLY)
  t.deepEqual(icmpEchoReply(Buffer.concat([ECHO_REQUEST, Buffer.alloc(10)]), '198.18.0.1'), ECHO_REPLY, 'padding is cut off')
  t.is(icmpEchoReply(ECHO_REQUEST, '198.18.0.2'), null, 'to another address')
  t.is(icmpEchoReply(ECHO_REPLY, '198.18.0.2'), null, 'a reply is not answered')
  t.is(icmpEchoReply(ARP_REQUEST, '198.18.0.1'), null, 'not IPv4')
  t.is(icmpEchoReply(ECHO_REQUEST.subarray(0, 45), '198.18.0.1'), null, 'cut short of its total length')
})
