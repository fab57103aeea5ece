//! A xorshift64 pseudo-random generator: tiny, deterministic, no dependencies.
//!
//! For randomised tests that must repeat exactly from a seed (mutation fuzzing, random
//! operation sequences). It is not suitable for anything that needs unpredictability.

/// The generator's state; any non-zero seed works.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator starting from `seed` (0 is replaced by a fixed non-zero value).
    pub const fn new(seed: u64) -> XorShift {
        XorShift(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// An index in `0..n` (0 when `n` is 0).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// One of `items` (which must not be empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.index(items.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::XorShift;

    #[test]
    fn repeats_from_a_seed_and_stays_in_range() {
        let (mut a, mut b) = (XorShift::new(7), XorShift::new(7));
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            assert!(a.below(10) < 10);
            assert!(b.index(3) < 3);
        }
        assert_eq!(XorShift::new(0).below(0), 0);
        assert_ne!(XorShift::new(0).next_u64(), 0);
    }
}
