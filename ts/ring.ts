/**
 * A first-in, first-out queue on a power-of-two ring: O(1) push and shift, no copying
 * of the backing array on the hot path (it only grows, by doubling, up to its limit).
 * @internal
 * @module
 */
export class Ring<T> {
  #items: (T | undefined)[]
  #head = 0
  #size = 0

  constructor(initialCapacity = 256) {
    let cap = 16
    while (cap < initialCapacity) cap *= 2
    this.#items = new Array<T | undefined>(cap)
  }

  /** How many items are queued. */
  get size(): number {
    return this.#size
  }

  /** Appends an item. */
  push(item: T): void {
    if (this.#size === this.#items.length) this.#grow()
    this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = item
    this.#size++
  }

  /** The oldest item, left in place, or `undefined` when empty. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head]
  }

  /** Removes and returns the oldest item, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined
    const item = this.#items[this.#head]
    this.#items[this.#head] = undefined
    this.#head = (this.#head + 1) & (this.#items.length - 1)
    this.#size--
    return item
  }

  /** Drops every item. */
  clear(): void {
    this.#items.fill(undefined)
    this.#head = 0
    this.#size = 0
  }

  #grow(): void {
    const old = this.#items
    const next = new Array<T | undefined>(old.length * 2)
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & (old.length - 1)]
    this.#items = next
    this.#head = 0
  }
}
