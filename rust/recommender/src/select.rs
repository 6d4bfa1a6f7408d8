//! The selection algorithm, specified precisely enough to reproduce in any
//! language (all arithmetic on unsigned 64-bit integers, wrapping):
//!
//! 1. `seed = (user_id as u32) << 32 | (category as u32)`, where `user_id as u32`
//!    is the two's-complement bit pattern of the `int32` user id and `category`
//!    is its contract number.
//! 2. A SplitMix64 generator starts from `state = seed`; each draw does
//!    `state += 0x9E3779B97F4A7C15; z = state;
//!    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
//!    return z ^ (z >> 31)`.
//! 3. The category's books are ordered by id, ascending; `n` is their number and
//!    `k = min(max_results, n)`.
//! 4. A partial Fisher-Yates shuffle of the positions `0..n`: for `i` in `0..k`,
//!    `j = i + draw() % (n - i)`, swap positions `i` and `j`, and recommend the
//!    book now at position `i`.
//!
//! Only the swapped positions are stored, so choosing `k` books costs O(k) time
//! and memory whatever `n` is. Because draw `i` depends only on the draws before
//! it, a request for `k` books is a prefix of the request for `k + 1`: pages are
//! stable as a user asks for more.

use std::collections::HashMap;

/// The seed for one user's selection in one category (step 1 above).
#[must_use]
pub(crate) fn seed(user_id: i32, category: i32) -> u64 {
    // Bit patterns, not values: negative ids are as valid as positive ones.
    (u64::from(user_id.cast_unsigned()) << 32) | u64::from(category.cast_unsigned())
}

/// The SplitMix64 generator (step 2 above).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    #[must_use]
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Picks `min(k, n)` distinct positions out of `0..n` (step 4 above), in O(k).
#[must_use]
pub(crate) fn sample_indices(seed: u64, n: u64, k: u64) -> Vec<u64> {
    let k = k.min(n);
    let capacity = usize::try_from(k).unwrap_or(0);
    // A page of a few books, the usual request, is cheaper to shuffle with a
    // short list of swaps than with a hash map (SipHash on every lookup).
    if k <= FEW_SWAPS {
        shuffle(seed, n, k, &mut SwapList(Vec::with_capacity(capacity)))
    } else {
        shuffle(seed, n, k, &mut HashMap::with_capacity(capacity))
    }
}

/// Pages up to this many books keep their swaps in a list searched linearly.
const FEW_SWAPS: u64 = 32;

/// The partial Fisher-Yates shuffle over `swaps`, which start empty.
fn shuffle(seed: u64, n: u64, k: u64, swaps: &mut impl Swaps) -> Vec<u64> {
    let mut rng = SplitMix64::new(seed);
    let mut picked = Vec::with_capacity(usize::try_from(k).unwrap_or(0));
    for i in 0..k {
        let j = i + rng.next_u64() % (n - i);
        // Position i is never read again, so only j needs to remember the swap.
        let at_i = swaps.take(i);
        if j == i {
            picked.push(at_i);
        } else {
            picked.push(swaps.replace(j, at_i));
        }
    }
    picked
}

/// The positions a swap has moved, and what each now holds; every other
/// position still holds itself.
trait Swaps {
    /// What `position` holds, forgetting it.
    fn take(&mut self, position: u64) -> u64;
    /// What `position` holds, and from now on it holds `holds`.
    fn replace(&mut self, position: u64, holds: u64) -> u64;
}

impl Swaps for HashMap<u64, u64> {
    fn take(&mut self, position: u64) -> u64 {
        self.remove(&position).unwrap_or(position)
    }

    fn replace(&mut self, position: u64, holds: u64) -> u64 {
        self.insert(position, holds).unwrap_or(position)
    }
}

/// Swaps as (position, holds) pairs, for a few of them.
struct SwapList(Vec<(u64, u64)>);

impl Swaps for SwapList {
    fn take(&mut self, position: u64) -> u64 {
        let found = self.0.iter().position(|&(moved, _)| moved == position);
        found.map_or(position, |at| self.0.swap_remove(at).1)
    }

    fn replace(&mut self, position: u64, holds: u64) -> u64 {
        if let Some((_, held)) = self.0.iter_mut().find(|(moved, _)| *moved == position) {
            std::mem::replace(held, holds)
        } else {
            self.0.push((position, holds));
            position
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs of the reference SplitMix64 (Vigna) from seed 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn the_seed_packs_user_and_category_bit_patterns() {
        assert_eq!(seed(1, 0), 1 << 32);
        assert_eq!(seed(1, 2), (1 << 32) | 2);
        assert_eq!(seed(-1, 1), 0xFFFF_FFFF_0000_0001);
    }

    #[test]
    fn sampling_from_an_astronomically_large_range_costs_only_k() {
        // An O(n) sampler could neither allocate nor loop over 2^62 positions.
        let n = 1 << 62;
        let picked = sample_indices(7, n, 1_000);
        assert_eq!(picked.len(), 1_000);
        assert!(picked.iter().all(|&index| index < n));
        assert_eq!(picked.iter().collect::<HashSet<_>>().len(), 1_000);
    }

    #[test]
    fn the_picks_are_those_of_the_specification() {
        // Computed with the first implementation, one hash map of swaps for
        // every page: the list of swaps for short pages must not change them.
        assert_eq!(sample_indices(seed(1, 1), 3, 3), [1, 2, 0]);
        assert_eq!(
            sample_indices(seed(7, 2), 10, 10),
            [5, 1, 8, 7, 6, 9, 4, 3, 0, 2]
        );
        assert_eq!(
            sample_indices(42, 40, 40),
            [
                13, 2, 6, 1, 38, 37, 5, 9, 29, 31, 27, 4, 34, 32, 22, 20, 21, 36, 33, 25, 0, 10, 3,
                14, 24, 19, 16, 30, 35, 39, 7, 28, 23, 17, 26, 11, 15, 8, 12, 18
            ]
        );
        assert_eq!(
            sample_indices(seed(-5, 3), 1 << 40, 4),
            [
                342_487_861_609,
                840_671_169_277,
                410_317_151_504,
                864_219_910_288
            ]
        );
        let long = sample_indices(9, 100_000, 1000);
        assert_eq!(long[..5], [32228, 35033, 87760, 91479, 67041]);
        assert_eq!(long.iter().sum::<u64>(), 50_386_639);
    }

    #[test]
    fn sampling_everything_is_a_permutation() {
        let mut picked = sample_indices(42, 50, 50);
        picked.sort_unstable();
        assert_eq!(picked, (0..50).collect::<Vec<_>>());
    }

    proptest! {
        #[test]
        fn picks_are_distinct_in_range_and_bounded(seed: u64, n in 0u64..500, k in 0u64..600) {
            let picked = sample_indices(seed, n, k);
            prop_assert_eq!(picked.len() as u64, k.min(n));
            prop_assert!(picked.iter().all(|&index| index < n));
            prop_assert_eq!(picked.iter().collect::<HashSet<_>>().len(), picked.len());
        }

        #[test]
        fn the_list_and_the_hash_map_of_swaps_pick_alike(seed: u64, n in 0u64..300, k in 0u64..100) {
            let k = k.min(n);
            let listed = shuffle(seed, n, k, &mut SwapList(Vec::new()));
            let hashed = shuffle(seed, n, k, &mut HashMap::new());
            prop_assert_eq!(listed, hashed);
        }

        #[test]
        fn asking_for_more_extends_the_same_picks(seed: u64, n in 1u64..200, k in 0u64..200) {
            let fewer = sample_indices(seed, n, k);
            let more = sample_indices(seed, n, k + 1);
            prop_assert_eq!(&more[..fewer.len()], &fewer[..]);
        }
    }
}
