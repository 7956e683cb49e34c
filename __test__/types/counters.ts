// Type test, compiled (never run) by `npm run test:types`: the public `Counters` is written
// by hand (it carries the docs) next to the binding's generated `NativeCounters`, which the
// facade hands out as it is. Each must be assignable to the other, so a field added, renamed
// or retyped on one side only fails the build.
import type { NativeCounters } from '../../binding.js'
import type { Counters } from '../../ts/index.ts'

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false

export const countersMatchTheBinding: Same<Counters, NativeCounters> = true
