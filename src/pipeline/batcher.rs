//! The batcher: groups rows into units. Flushes when a unit has its row
//! count or its byte cap (whichever comes first, so that rows of huge cells
//! never make a huge unit), and once more at the end for a short last unit
//! (whose true length is what gets counted, never the nominal batch size).
//! A ramped batcher cuts its first units smaller (`Plan::first_unit_rows`).

/// Accumulates items into units of at most `size` items, flushed early
/// once their bytes reach `max_bytes`.
#[derive(Debug)]
pub struct Batcher<T> {
    size: usize,
    /// The size the current unit is cut at: below `size` while ramping up.
    now: usize,
    /// The ramp's first size, the least [`Batcher::taper`] cuts at.
    least: usize,
    /// The cut [`Batcher::taper`] asks for, at most `size`.
    cap: usize,
    max_bytes: usize,
    buf: Vec<T>,
    bytes: usize,
}

impl<T> Batcher<T> {
    /// A batcher of units of `size` items (at least 1) and about
    /// `max_bytes` bytes (a unit is flushed by the item that reaches it).
    pub fn new(size: usize, max_bytes: usize) -> Batcher<T> {
        let size = size.max(1);
        Batcher {
            size,
            now: size,
            least: size,
            cap: size,
            max_bytes: max_bytes.max(1),
            buf: Vec::with_capacity(size.min(4096)),
            bytes: 0,
        }
    }

    /// The same batcher cutting its first unit at `first` items, each next
    /// one twice as large, until units have `size` items.
    pub fn ramped(size: usize, first: usize, max_bytes: usize) -> Batcher<T> {
        let mut b = Batcher::new(size, max_bytes);
        b.now = first.clamp(1, b.size);
        b.least = b.now;
        b
    }

    /// Near the source's end, with about `remaining` items still to come:
    /// cuts units at a quarter of that (not below the ramp's first size),
    /// so that the last units are small and the writers end together. A
    /// batcher that was not ramped keeps its size.
    pub fn taper(&mut self, remaining: usize) {
        self.cap = (remaining / 4).clamp(self.least, self.size);
    }

    /// Adds one item of `bytes` bytes; returns a full unit and its bytes
    /// when this item completed one.
    pub fn push(&mut self, item: T, bytes: usize) -> Option<(Vec<T>, usize)> {
        self.buf.push(item);
        self.bytes = self.bytes.saturating_add(bytes);
        (self.buf.len() >= self.now.min(self.cap) || self.bytes >= self.max_bytes)
            .then(|| self.take())
    }

    /// The last, possibly short, unit and its bytes (None when empty).
    pub fn finish(&mut self) -> Option<(Vec<T>, usize)> {
        (!self.buf.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> (Vec<T>, usize) {
        self.now = self.now.saturating_mul(2).min(self.size);
        let unit = std::mem::replace(&mut self.buf, Vec::with_capacity(self.size.min(4096)));
        (unit, std::mem::take(&mut self.bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_last_batch_keeps_its_true_length() {
        let mut b = Batcher::new(100, usize::MAX);
        let mut units = Vec::new();
        for i in 0..250 {
            units.extend(b.push(i, 1).map(|(u, _)| u));
        }
        units.extend(b.finish().map(|(u, _)| u));
        let lens: Vec<usize> = units.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![100, 100, 50]);
        assert_eq!(units.concat(), (0..250).collect::<Vec<_>>());
    }

    #[test]
    fn a_ramp_doubles_its_units_up_to_the_size_and_keeps_every_item() {
        let mut b = Batcher::ramped(10, 2, usize::MAX);
        let mut units = Vec::new();
        for i in 0..35 {
            units.extend(b.push(i, 1).map(|(u, _)| u));
        }
        units.extend(b.finish().map(|(u, _)| u));
        let lens: Vec<usize> = units.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![2, 4, 8, 10, 10, 1]);
        assert_eq!(units.concat(), (0..35).collect::<Vec<_>>());
        // A first unit as large as the rest is no ramp; none is empty.
        let mut flat = Batcher::ramped(3, 3, usize::MAX);
        assert_eq!(flat.push(0, 1), None);
        let mut zero = Batcher::ramped(3, 0, usize::MAX);
        assert_eq!(zero.push(7, 1), Some((vec![7], 1)));
    }

    #[test]
    fn a_taper_cuts_the_last_units_at_a_quarter_of_what_is_left() {
        let mut b = Batcher::ramped(100, 10, usize::MAX);
        let mut lens = Vec::new();
        for i in 0..400 {
            // 400 items in all; from the 250th on the rest is known.
            if i >= 250 {
                b.taper(400 - i);
            }
            lens.extend(b.push(i, 1).map(|(u, _)| u.len()));
        }
        lens.extend(b.finish().map(|(u, _)| u.len()));
        assert_eq!(lens.iter().sum::<usize>(), 400);
        // The ramp (10, 20, 40, 80, 100), then ever smaller cuts, none
        // below the ramp's first size but the short last one.
        assert_eq!(lens[..4], [10, 20, 40, 80]);
        let tail = &lens[5..];
        assert!(tail.windows(2).all(|w| w[0] >= w[1]), "{lens:?}");
        assert!(tail[..tail.len() - 1].iter().all(|&n| n >= 10), "{lens:?}");
        assert!(tail.len() >= 4, "{lens:?}");
        // Not ramped: a taper leaves the size alone.
        let mut flat = Batcher::new(5, usize::MAX);
        flat.taper(0);
        assert!((0..4).all(|i| flat.push(i, 1).is_none()));
    }

    #[test]
    fn an_empty_batcher_flushes_nothing() {
        let mut b: Batcher<u8> = Batcher::new(0, 0);
        assert_eq!(b.finish(), None);
        assert_eq!(b.push(1, 0), Some((vec![1], 0)));
    }

    #[test]
    fn a_unit_is_flushed_when_its_bytes_reach_the_cap_before_its_rows() {
        // 2,000-row units capped at 1 MiB: rows of 300 KiB flush every 4th.
        let mut b = Batcher::new(2_000, 1 << 20);
        let mut units = Vec::new();
        for i in 0..10 {
            units.extend(b.push(i, 300 << 10));
        }
        units.extend(b.finish());
        let shape: Vec<(usize, usize)> = units.iter().map(|(u, n)| (u.len(), *n)).collect();
        assert_eq!(
            shape,
            vec![(4, 1200 << 10), (4, 1200 << 10), (2, 600 << 10)]
        );
        // Small rows still fill whole units by count.
        let mut b = Batcher::new(3, 1 << 20);
        let full: Vec<_> = (0..6).filter_map(|i| b.push(i, 100)).collect();
        assert_eq!(full, vec![(vec![0, 1, 2], 300), (vec![3, 4, 5], 300)]);
    }
}
