// Tier (a), pure: the FIFO ring behind Rx's burst queue.
import test from 'ava'
import { Ring } from '../ts/ring.ts'

function drain<T>(ring: Ring<T>): T[] {
  const out: T[] = []
  for (let item = ring.shift(); item !== undefined; item = ring.shift()) out.push(item)
  return out
}

test('an empty ring has nothing to peek or shift', (t) => {
  const ring = new Ring<number>()
  t.is(ring.size, 0)
  t.is(ring.peek(), undefined)
  t.is(ring.shift(), undefined)
  t.is(ring.size, 0)
})

test('first in, first out; peek leaves the item in place', (t) => {
  const ring = new Ring<string>()
  for (const s of ['a', 'b', 'c']) ring.push(s)
  t.is(ring.size, 3)
  t.is(ring.peek(), 'a')
  t.is(ring.size, 3)
  t.is(ring.shift(), 'a')
  t.is(ring.peek(), 'b')
  t.deepEqual(drain(ring), ['b', 'c'])
  t.is(ring.size, 0)
})

test('order survives wrap-around at a fixed capacity', (t) => {
  const ring = new Ring<number>(16)
  let next = 0
  let expect = 0
  // Keep 10 queued while pushing 1000: head and tail wrap the 16 slots many times.
  for (let i = 0; i < 10; i++) ring.push(next++)
  for (let i = 0; i < 1000; i++) {
    t.is(ring.shift(), expect++)
    ring.push(next++)
  }
  t.is(ring.size, 10)
  t.deepEqual(
    drain(ring),
    Array.from({ length: 10 }, (_, i) => expect + i),
  )
})

test('growth while wrapped keeps the order', (t) => {
  const ring = new Ring<number>(16)
  for (let i = 0; i < 12; i++) ring.push(i)
  for (let i = 0; i < 8; i++) t.is(ring.shift(), i)
  // 4 queued, starting mid-array; 100 more forces several doublings from a wrapped state.
  for (let i = 12; i < 112; i++) ring.push(i)
  t.is(ring.size, 104)
  t.deepEqual(
    drain(ring),
    Array.from({ length: 104 }, (_, i) => 8 + i),
  )
})

test('any initial capacity works, including 0 and non-powers of two', (t) => {
  for (const cap of [0, 1, 17, 300]) {
    const ring = new Ring<number>(cap)
    for (let i = 0; i < 700; i++) ring.push(i)
    t.is(ring.size, 700)
    t.deepEqual(
      drain(ring),
      Array.from({ length: 700 }, (_, i) => i),
      `capacity ${cap}`,
    )
  }
})

test('clear drops everything and the ring stays usable', (t) => {
  const ring = new Ring<number>(16)
  for (let i = 0; i < 40; i++) ring.push(i)
  for (let i = 0; i < 5; i++) ring.shift()
  ring.clear()
  t.is(ring.size, 0)
  t.is(ring.peek(), undefined)
  ring.push(1)
  ring.push(2)
  t.deepEqual(drain(ring), [1, 2])
})

test('falsy items are items', (t) => {
  const ring = new Ring<number | string | null | boolean>()
  for (const v of [0, '', null, false]) ring.push(v)
  t.is(ring.size, 4)
  t.is(ring.shift(), 0)
  t.is(ring.shift(), '')
  t.is(ring.shift(), null)
  t.is(ring.shift(), false)
  t.is(ring.size, 0)
})
