//! The write-back block cache: byte-offset reads and writes over a [`BlockDevice`].
//!
//! The cache holds up to `capacity` blocks, evicting the least recently used. A read miss fetches
//! the whole run of missing blocks it needs (up to `max_run` blocks) in one transfer. A write
//! that covers a whole block replaces it without reading; a partial one reads the block first. A
//! dirty block reaches the device when it is evicted (together with the dirty blocks next to it)
//! or at [`Cache::flush`], which writes every dirty run in block order and then flushes the
//! device. Whatever fails stays dirty and the error goes back to the caller, so nothing written is
//! dropped without someone being told.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::{BlockDevice, BlockError};

/// What the cache has done, for `free`-style reports and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Blocks found in the cache.
    pub hits: u64,
    /// Blocks fetched from the device.
    pub misses: u64,
    /// Read transfers issued to the device.
    pub read_transfers: u64,
    /// Write transfers issued to the device.
    pub write_transfers: u64,
    /// Blocks written to the device.
    pub blocks_written: u64,
}

struct Entry {
    data: Box<[u8]>,
    dirty: bool,
    /// When it was last used (the cache's clock), its key in the LRU order.
    used: u64,
}

/// A write-back cache of one device's blocks.
pub struct Cache {
    block_size: usize,
    capacity: usize,
    max_run: usize,
    entries: BTreeMap<u64, Entry>,
    /// Least recently used first: use time -> block.
    lru: BTreeMap<u64, u64>,
    clock: u64,
    dirty: usize,
    stats: CacheStats,
}

impl Cache {
    /// A cache of `capacity` blocks of `block_size` bytes that moves at most `max_run` blocks per
    /// transfer (both at least 1; `max_run` is capped at `capacity`).
    pub fn new(block_size: usize, capacity: usize, max_run: usize) -> Cache {
        let capacity = capacity.max(1);
        Cache {
            block_size: block_size.max(1),
            capacity,
            max_run: max_run.clamp(1, capacity),
            entries: BTreeMap::new(),
            lru: BTreeMap::new(),
            clock: 0,
            dirty: 0,
            stats: CacheStats::default(),
        }
    }

    /// Blocks held.
    pub fn cached(&self) -> usize {
        self.entries.len()
    }

    /// Blocks written to the cache and not yet to the device.
    pub fn dirty(&self) -> usize {
        self.dirty
    }

    /// What the cache has done so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    fn touch(&mut self, lba: u64) {
        self.clock += 1;
        if let Some(e) = self.entries.get_mut(&lba) {
            self.lru.remove(&e.used);
            e.used = self.clock;
            self.lru.insert(self.clock, lba);
        }
    }

    fn insert(&mut self, lba: u64, data: Box<[u8]>, dirty: bool) {
        self.clock += 1;
        self.lru.insert(self.clock, lba);
        self.dirty += usize::from(dirty);
        if let Some(old) = self.entries.insert(
            lba,
            Entry {
                data,
                dirty,
                used: self.clock,
            },
        ) {
            self.lru.remove(&old.used);
            self.dirty -= usize::from(old.dirty);
        }
    }

    fn mark_dirty(&mut self, lba: u64) {
        if let Some(e) = self.entries.get_mut(&lba) {
            if !e.dirty {
                e.dirty = true;
                self.dirty += 1;
            }
        }
    }

    /// Writes the dirty run of blocks `[first, first + count)` in one transfer and marks it clean.
    fn write_run(
        &mut self,
        dev: &mut dyn BlockDevice,
        first: u64,
        count: u64,
    ) -> Result<(), BlockError> {
        let mut buf = Vec::with_capacity(count as usize * self.block_size);
        for lba in first..first + count {
            if let Some(e) = self.entries.get(&lba) {
                buf.extend_from_slice(&e.data);
            }
            dev.pause();
        }
        dev.write_blocks(first, &buf)?;
        self.stats.write_transfers += 1;
        self.stats.blocks_written += count;
        for lba in first..first + count {
            if let Some(e) = self.entries.get_mut(&lba) {
                if e.dirty {
                    e.dirty = false;
                    self.dirty -= 1;
                }
            }
            dev.pause();
        }
        Ok(())
    }

    fn is_dirty(&self, lba: u64) -> bool {
        self.entries.get(&lba).is_some_and(|e| e.dirty)
    }

    /// Writes back the run of dirty blocks around `lba` (at most `max_run` of them).
    fn write_back_around(&mut self, dev: &mut dyn BlockDevice, lba: u64) -> Result<(), BlockError> {
        let limit = self.max_run as u64;
        let mut first = lba;
        while first > 0 && lba - (first - 1) < limit && self.is_dirty(first - 1) {
            first -= 1;
        }
        let mut end = lba + 1;
        while end - first < limit && self.is_dirty(end) {
            end += 1;
        }
        self.write_run(dev, first, end - first)
    }

    /// Evicts least recently used blocks until `room` more fit, writing dirty ones back first.
    fn make_room(&mut self, dev: &mut dyn BlockDevice, room: usize) -> Result<(), BlockError> {
        while self.entries.len() + room > self.capacity {
            let Some((_, &lba)) = self.lru.first_key_value() else {
                break;
            };
            if self.is_dirty(lba) {
                self.write_back_around(dev, lba)?;
            }
            if let Some(e) = self.entries.remove(&lba) {
                self.lru.remove(&e.used);
            }
            dev.pause();
        }
        Ok(())
    }

    /// Fetches blocks `[lba, lba + count)` (none of them cached) in one transfer.
    fn fill(
        &mut self,
        dev: &mut dyn BlockDevice,
        lba: u64,
        count: usize,
    ) -> Result<(), BlockError> {
        self.make_room(dev, count)?;
        let mut buf = Vec::with_capacity(count * self.block_size);
        for _ in 0..count {
            buf.resize(buf.len() + self.block_size, 0);
            dev.pause();
        }
        dev.read_blocks(lba, &mut buf)?;
        self.stats.read_transfers += 1;
        self.stats.misses += count as u64;
        for (i, block) in buf.chunks_exact(self.block_size).enumerate() {
            self.insert(lba + i as u64, block.into(), false);
            dev.pause();
        }
        Ok(())
    }

    /// Makes sure block `lba` is cached, fetching it with the uncached blocks after it up to
    /// `last` in the same transfer. Returns the first block after what it fetched (`lba` when
    /// the block was cached already).
    fn load(&mut self, dev: &mut dyn BlockDevice, lba: u64, last: u64) -> Result<u64, BlockError> {
        if self.entries.contains_key(&lba) {
            return Ok(lba);
        }
        let mut count = 1;
        while count < self.max_run
            && lba + (count as u64) <= last
            && !self.entries.contains_key(&(lba + count as u64))
        {
            count += 1;
        }
        self.fill(dev, lba, count)?;
        Ok(lba + count as u64)
    }

    /// Reads up to `buf.len()` bytes at byte `offset` of the device. Returns the bytes read:
    /// fewer at the device's end, 0 at or beyond it, and fewer when the device fails after the
    /// first bytes (the error itself when it fails before any).
    pub fn read(
        &mut self,
        dev: &mut dyn BlockDevice,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, BlockError> {
        let bs = self.block_size as u64;
        let size = dev.block_count().saturating_mul(bs);
        let len = size.saturating_sub(offset).min(buf.len() as u64) as usize;
        if len == 0 {
            return Ok(0);
        }
        let last = (offset + len as u64 - 1) / bs;
        let mut done = 0;
        // Blocks below this one were fetched by this read: not hits.
        let mut fetched_to = 0;
        while done < len {
            let pos = offset + done as u64;
            let lba = pos / bs;
            let within = (pos % bs) as usize;
            let n = (self.block_size - within).min(len - done);
            match self.load(dev, lba, last) {
                Ok(end) if end == lba && lba >= fetched_to => self.stats.hits += 1,
                Ok(end) => fetched_to = fetched_to.max(end),
                Err(e) => return short(done, e),
            }
            self.touch(lba);
            if let Some(e) = self.entries.get(&lba) {
                buf[done..done + n].copy_from_slice(&e.data[within..within + n]);
            }
            done += n;
            dev.pause();
        }
        Ok(len)
    }

    /// Writes `buf` at byte `offset` of the device, into the cache. Returns the bytes written:
    /// fewer when the device ends first, or when the device fails after the first bytes (the
    /// error itself when it fails before any). A write that starts at or beyond the end is
    /// refused.
    pub fn write(
        &mut self,
        dev: &mut dyn BlockDevice,
        offset: u64,
        buf: &[u8],
    ) -> Result<usize, BlockError> {
        let bs = self.block_size as u64;
        let blocks = dev.block_count();
        let size = blocks.saturating_mul(bs);
        if buf.is_empty() {
            return Ok(0);
        }
        if offset >= size {
            return Err(BlockError::OutOfRange {
                lba: offset / bs,
                count: (buf.len() as u64).div_ceil(bs),
                blocks,
            });
        }
        let len = (size - offset).min(buf.len() as u64) as usize;
        let mut done = 0;
        while done < len {
            let pos = offset + done as u64;
            let lba = pos / bs;
            let within = (pos % bs) as usize;
            let n = (self.block_size - within).min(len - done);
            if n == self.block_size && !self.entries.contains_key(&lba) {
                if let Err(e) = self.make_room(dev, 1) {
                    return short(done, e);
                }
                self.insert(lba, buf[done..done + n].into(), true);
            } else {
                match self.load(dev, lba, lba) {
                    Ok(end) if end == lba => self.stats.hits += 1,
                    Ok(_) => {}
                    Err(e) => return short(done, e),
                }
                self.touch(lba);
                if let Some(e) = self.entries.get_mut(&lba) {
                    e.data[within..within + n].copy_from_slice(&buf[done..done + n]);
                }
                self.mark_dirty(lba);
            }
            done += n;
            dev.pause();
        }
        Ok(len)
    }

    /// Writes every dirty block back, adjacent ones in one transfer, in block order, then flushes
    /// the device. On an error the blocks not yet written stay dirty.
    pub fn flush(&mut self, dev: &mut dyn BlockDevice) -> Result<(), BlockError> {
        let dirty: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, e)| e.dirty)
            .map(|(&lba, _)| lba)
            .collect();
        let mut i = 0;
        while i < dirty.len() {
            let first = dirty[i];
            let mut end = first + 1;
            i += 1;
            while i < dirty.len() && dirty[i] == end && end - first < self.max_run as u64 {
                end += 1;
                i += 1;
            }
            self.write_run(dev, first, end - first)?;
        }
        dev.flush()
    }

    /// Forgets every block (the medium went away). Returns how many dirty blocks were lost, for
    /// the error report.
    pub fn discard(&mut self) -> usize {
        let lost = self.dirty;
        self.entries.clear();
        self.lru.clear();
        self.dirty = 0;
        lost
    }
}

/// The result of a transfer that failed with `error` after `done` bytes: a short count, or the
/// error when nothing was transferred.
fn short(done: usize, error: BlockError) -> Result<usize, BlockError> {
    if done > 0 {
        Ok(done)
    } else {
        Err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_core::xorshift::XorShift;

    const BS: usize = 512;

    /// A RAM disk that counts transfers and fails on request.
    struct Disk {
        data: Vec<u8>,
        reads: Vec<(u64, usize)>,
        writes: Vec<(u64, usize)>,
        /// Fail this many of the next write transfers.
        fail_writes: usize,
        /// Fail this many of the next read transfers.
        fail_reads: usize,
        present: bool,
        flushes: usize,
        /// Calls of `pause`.
        pauses: usize,
    }

    impl Disk {
        fn new(blocks: usize) -> Disk {
            Disk {
                data: (0..blocks * BS).map(|i| (i * 7 % 251) as u8).collect(),
                reads: Vec::new(),
                writes: Vec::new(),
                fail_writes: 0,
                fail_reads: 0,
                present: true,
                flushes: 0,
                pauses: 0,
            }
        }
    }

    impl BlockDevice for Disk {
        fn block_size(&self) -> usize {
            BS
        }

        fn block_count(&self) -> u64 {
            (self.data.len() / BS) as u64
        }

        fn read_blocks(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), BlockError> {
            if !self.present {
                return Err(BlockError::NoMedium);
            }
            if self.fail_reads > 0 {
                self.fail_reads -= 1;
                return Err(BlockError::Io { lba });
            }
            assert_eq!(buf.len() % BS, 0);
            let at = lba as usize * BS;
            buf.copy_from_slice(&self.data[at..at + buf.len()]);
            self.reads.push((lba, buf.len() / BS));
            Ok(())
        }

        fn write_blocks(&mut self, lba: u64, buf: &[u8]) -> Result<(), BlockError> {
            if !self.present {
                return Err(BlockError::NoMedium);
            }
            if self.fail_writes > 0 {
                self.fail_writes -= 1;
                return Err(BlockError::Timeout { lba });
            }
            assert_eq!(buf.len() % BS, 0);
            let at = lba as usize * BS;
            self.data[at..at + buf.len()].copy_from_slice(buf);
            self.writes.push((lba, buf.len() / BS));
            Ok(())
        }

        fn flush(&mut self) -> Result<(), BlockError> {
            self.flushes += 1;
            Ok(())
        }

        fn pause(&mut self) {
            self.pauses += 1;
        }
    }

    #[test]
    fn long_work_pauses_at_every_block() {
        let mut disk = Disk::new(64);
        let mut cache = Cache::new(BS, 16, 16);
        let mut buf = vec![0u8; 16 * BS];
        // A miss: the transfer buffer zeroed, 16 blocks inserted, then 16 copied out.
        assert_eq!(cache.read(&mut disk, 0, &mut buf), Ok(16 * BS));
        assert_eq!(disk.pauses, 48);
        // Another 16: 16 evicted, zeroed, inserted and copied.
        assert_eq!(cache.read(&mut disk, 16 * BS as u64, &mut buf), Ok(16 * BS));
        assert_eq!(disk.pauses, 48 + 64);
        // Whole-block writes: one pause each (the eviction of 16 clean blocks, then 16 written).
        assert_eq!(cache.write(&mut disk, 32 * BS as u64, &buf), Ok(16 * BS));
        assert_eq!(disk.pauses, 112 + 32);
        // Written back in one run: 16 blocks gathered, then marked clean.
        assert_eq!(cache.flush(&mut disk), Ok(()));
        assert_eq!(disk.pauses, 144 + 32);
    }

    #[test]
    fn a_read_miss_fetches_the_whole_run_in_one_transfer_and_then_hits() {
        let mut disk = Disk::new(64);
        let expect = disk.data[700..700 + 4000].to_vec();
        let mut cache = Cache::new(BS, 32, 16);
        let mut buf = vec![0u8; 4000];
        assert_eq!(cache.read(&mut disk, 700, &mut buf), Ok(4000));
        assert_eq!(buf, expect);
        // Bytes 700..4700 span blocks 1 to 9.
        assert_eq!(disk.reads, [(1, 9)]);
        buf.fill(0);
        assert_eq!(cache.read(&mut disk, 700, &mut buf), Ok(4000));
        assert_eq!(buf, expect);
        assert_eq!(
            disk.reads.len(),
            1,
            "the second read is served from the cache"
        );
        assert_eq!(cache.stats().hits, 9);
    }

    #[test]
    fn reads_stop_at_the_end_of_the_device() {
        let mut disk = Disk::new(4);
        let mut cache = Cache::new(BS, 8, 8);
        let mut buf = [0u8; 100];
        assert_eq!(cache.read(&mut disk, 4 * 512 - 10, &mut buf), Ok(10));
        assert_eq!(cache.read(&mut disk, 4 * 512, &mut buf), Ok(0));
        assert_eq!(cache.read(&mut disk, u64::MAX, &mut buf), Ok(0));
    }

    #[test]
    fn writes_are_held_until_flush_then_written_back_in_runs() {
        let mut disk = Disk::new(64);
        let mut cache = Cache::new(BS, 32, 8);
        // Whole blocks 2 to 11 (not read first), and one partial block 20.
        let pattern: Vec<u8> = (0..10 * BS).map(|i| (i % 13) as u8).collect();
        assert_eq!(cache.write(&mut disk, 2 * 512, &pattern), Ok(pattern.len()));
        assert_eq!(cache.write(&mut disk, 20 * 512 + 100, b"hello"), Ok(5));
        assert_eq!(
            disk.writes.len(),
            0,
            "nothing reaches the device before a flush"
        );
        assert_eq!(disk.reads, [(20, 1)], "only the partial block was read");
        assert_eq!(cache.dirty(), 11);
        let mut back = vec![0u8; pattern.len()];
        cache.read(&mut disk, 2 * 512, &mut back).unwrap();
        assert_eq!(back, pattern);
        let before = disk.data.clone();
        cache.flush(&mut disk).unwrap();
        assert_eq!(disk.writes, [(2, 8), (10, 2), (20, 1)]);
        assert_eq!(disk.flushes, 1);
        assert_eq!(cache.dirty(), 0);
        assert_eq!(&disk.data[2 * 512..12 * 512], &pattern[..]);
        assert_eq!(&disk.data[20 * 512 + 100..20 * 512 + 105], b"hello");
        // Nothing else changed.
        for (i, (a, b)) in before.iter().zip(&disk.data).enumerate() {
            let written =
                (2 * 512..12 * 512).contains(&i) || (20 * 512 + 100..20 * 512 + 105).contains(&i);
            if !written {
                assert_eq!(a, b, "byte {i} changed");
            }
        }
    }

    #[test]
    fn a_write_past_the_end_is_refused_and_one_across_it_is_cut_short() {
        let mut disk = Disk::new(4);
        let mut cache = Cache::new(BS, 8, 8);
        assert_eq!(
            cache.write(&mut disk, 4 * 512, b"x"),
            Err(BlockError::OutOfRange {
                lba: 4,
                count: 1,
                blocks: 4
            })
        );
        assert_eq!(cache.write(&mut disk, 4 * 512 - 3, b"abcdef"), Ok(3));
        assert_eq!(cache.write(&mut disk, 0, b""), Ok(0));
    }

    #[test]
    fn evicting_a_dirty_block_writes_its_dirty_neighbours_with_it() {
        let mut disk = Disk::new(64);
        let mut cache = Cache::new(BS, 4, 4);
        let block = [0x5au8; BS];
        for lba in 0..4u64 {
            cache.write(&mut disk, lba * 512, &block).unwrap();
        }
        assert!(disk.writes.is_empty());
        // A fifth block needs room: block 0 (the oldest) goes, with 1 to 3 in the same transfer.
        let mut buf = [0u8; 16];
        cache.read(&mut disk, 40 * 512, &mut buf).unwrap();
        assert_eq!(disk.writes, [(0, 4)]);
        assert_eq!(cache.dirty(), 0);
        assert!(cache.cached() <= 4);
        assert_eq!(&disk.data[..4 * BS], &[0x5a; 4 * BS][..]);
    }

    #[test]
    fn a_failed_write_back_keeps_the_data_dirty_until_a_retry_succeeds() {
        let mut disk = Disk::new(16);
        let mut cache = Cache::new(BS, 8, 8);
        cache.write(&mut disk, 3 * 512 + 5, b"keep me").unwrap();
        disk.fail_writes = 1;
        assert_eq!(cache.flush(&mut disk), Err(BlockError::Timeout { lba: 3 }));
        assert_eq!(cache.dirty(), 1, "the block must stay dirty");
        assert_ne!(&disk.data[3 * 512 + 5..3 * 512 + 12], b"keep me");
        cache.flush(&mut disk).unwrap();
        assert_eq!(&disk.data[3 * 512 + 5..3 * 512 + 12], b"keep me");
    }

    #[test]
    fn a_failed_read_caches_nothing_and_reports_the_error() {
        let mut disk = Disk::new(16);
        let mut cache = Cache::new(BS, 8, 8);
        disk.fail_reads = 1;
        let mut buf = [0u8; 600];
        assert_eq!(
            cache.read(&mut disk, 0, &mut buf),
            Err(BlockError::Io { lba: 0 })
        );
        assert_eq!(cache.cached(), 0);
        assert_eq!(cache.read(&mut disk, 0, &mut buf), Ok(600));
    }

    #[test]
    fn a_pulled_card_fails_with_no_medium_and_discard_counts_the_lost_blocks() {
        let mut disk = Disk::new(16);
        let mut cache = Cache::new(BS, 8, 8);
        cache.write(&mut disk, 0, &[1u8; 1024]).unwrap();
        disk.present = false;
        assert_eq!(cache.flush(&mut disk), Err(BlockError::NoMedium));
        let mut buf = [0u8; 8];
        assert_eq!(
            cache.read(&mut disk, 8 * 512, &mut buf),
            Err(BlockError::NoMedium)
        );
        assert_eq!(cache.discard(), 2);
        assert_eq!((cache.cached(), cache.dirty()), (0, 0));
    }

    /// Random reads, writes, flushes and transient device errors against a shadow copy: a read
    /// always returns what was last written, and after a successful flush the device holds
    /// exactly the shadow.
    #[test]
    fn random_operations_match_a_shadow_model() {
        for seed in 1..=20 {
            let mut rng = XorShift::new(seed);
            let blocks = 48;
            let mut disk = Disk::new(blocks);
            let mut shadow = disk.data.clone();
            let capacity = 1 + rng.index(12);
            let mut cache = Cache::new(BS, capacity, 1 + rng.index(8));
            for _ in 0..400 {
                let offset = rng.below((blocks * BS) as u64 + 100);
                let len = rng.index(3 * BS);
                match rng.below(10) {
                    0..=3 => {
                        let mut buf = vec![0u8; len];
                        if let Ok(n @ 1..) = cache.read(&mut disk, offset, &mut buf) {
                            let o = offset as usize;
                            assert_eq!(&buf[..n], &shadow[o..o + n], "seed {seed}");
                        }
                    }
                    4..=7 => {
                        let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
                        if let Ok(n) = cache.write(&mut disk, offset, &data) {
                            let o = offset as usize;
                            shadow[o..o + n].copy_from_slice(&data[..n]);
                        }
                    }
                    8 => {
                        disk.fail_writes = rng.index(2);
                        disk.fail_reads = rng.index(2);
                    }
                    _ => {
                        if cache.flush(&mut disk).is_ok() {
                            assert_eq!(disk.data, shadow, "seed {seed}: flush lost a write");
                        }
                    }
                }
                assert!(cache.cached() <= capacity);
            }
            disk.fail_writes = 0;
            cache.flush(&mut disk).unwrap();
            assert_eq!(disk.data, shadow, "seed {seed}");
        }
    }
}
