//! The batcher: groups rows into units of a fixed size. Flushes when full,
//! and once more at the end for a short last unit (whose true length is
//! what gets counted, never the nominal batch size).

/// Accumulates items into units of `size`.
#[derive(Debug)]
pub struct Batcher<T> {
    size: usize,
    buf: Vec<T>,
}

impl<T> Batcher<T> {
    /// A batcher of units of `size` (at least 1).
    pub fn new(size: usize) -> Batcher<T> {
        let size = size.max(1);
        Batcher {
            size,
            buf: Vec::with_capacity(size.min(65_536)),
        }
    }

    /// Adds one item; returns a full unit when this item completed one.
    pub fn push(&mut self, item: T) -> Option<Vec<T>> {
        self.buf.push(item);
        (self.buf.len() >= self.size).then(|| self.take())
    }

    /// The last, possibly short, unit (None when empty).
    pub fn finish(&mut self) -> Option<Vec<T>> {
        (!self.buf.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> Vec<T> {
        std::mem::replace(&mut self.buf, Vec::with_capacity(self.size.min(65_536)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_last_batch_keeps_its_true_length() {
        let mut b = Batcher::new(100);
        let mut units = Vec::new();
        for i in 0..250 {
            units.extend(b.push(i));
        }
        units.extend(b.finish());
        let lens: Vec<usize> = units.iter().map(Vec::len).collect();
        assert_eq!(lens, vec![100, 100, 50]);
        assert_eq!(units.concat(), (0..250).collect::<Vec<_>>());
    }

    #[test]
    fn an_empty_batcher_flushes_nothing() {
        let mut b: Batcher<u8> = Batcher::new(0);
        assert_eq!(b.finish(), None);
        assert_eq!(b.push(1), Some(vec![1]));
    }
}
