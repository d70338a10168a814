// @ts-check
// A small seeded PRNG, so a demo run with the same --seed makes the same
// changes and the same delivery mix.

/** @typedef {ReturnType<typeof createRandom>} Random */

/**
 * mulberry32: fast, good enough for picking orders and delays, never for secrets.
 * @param {number} seed
 */
export function createRandom (seed) {
  let a = seed >>> 0
  function next () {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    next,
    /**
     * An integer in [min, max].
     * @param {number} min
     * @param {number} max
     */
    int (min, max) {
      return min + Math.floor(next() * (max - min + 1))
    },
    /**
     * True with probability p.
     * @param {number} p
     */
    chance (p) {
      return next() < p
    },
    /**
     * @template T
     * @param {readonly T[]} list not empty
     * @returns {T}
     */
    pick (list) {
      return list[Math.floor(next() * list.length)]
    },
    /**
     * A shuffled copy (Fisher-Yates).
     * @template T
     * @param {readonly T[]} list
     * @returns {T[]}
     */
    shuffle (list) {
      const out = [...list]
      for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1))
        ;[out[i], out[j]] = [out[j], out[i]]
      }
      return out
    }
  }
}
