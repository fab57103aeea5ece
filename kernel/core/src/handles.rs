//! A process's handle table: small integers naming kernel objects, each with the rights the
//! process holds on it.
//!
//! A handle is the index of a slot in a fixed array of `N`; a new handle takes the lowest free
//! slot, as file descriptors do. Each slot holds the object (typically a reference-counted
//! pointer, hence `T: Clone` for [`HandleTable::dup`]) and a rights mask (the `RIGHT_*` bits of
//! `keel_abi::ipc`). The kernel turns the errors into error numbers: [`HandleError::BadHandle`]
//! into `EBADH`, [`HandleError::MissingRights`] into `EPERM`, [`HandleError::Full`] into
//! `EMFILE`.

use core::fmt;

/// Why a handle operation was refused. A refused operation leaves the table unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleError {
    /// The handle is out of range or its slot is empty.
    BadHandle,
    /// The handle lacks some of the rights the operation needs.
    MissingRights {
        /// The rights the handle has.
        have: u32,
        /// The rights the operation needs.
        need: u32,
    },
    /// Every slot is taken.
    Full,
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::BadHandle => f.write_str("no such handle: it was never opened or is closed"),
            Self::MissingRights { have, need } => write!(
                f,
                "handle lacks rights {:#x}: it has {have:#x}, the operation needs {need:#x}",
                need & !have
            ),
            Self::Full => f.write_str("handle table full: close a handle first"),
        }
    }
}

/// A table of up to `N` handles to objects of type `T`.
#[derive(Clone, Debug)]
pub struct HandleTable<T: Clone, const N: usize> {
    /// Slot `h` holds handle `h`'s object and rights, or `None` if the handle is free.
    slots: [Option<(T, u32)>; N],
}

impl<T: Clone, const N: usize> Default for HandleTable<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Clone, const N: usize> HandleTable<T, N> {
    /// Returns an empty table.
    pub const fn new() -> Self {
        Self {
            slots: [const { None }; N],
        }
    }

    /// Returns the slot of `h` if it is open.
    fn slot(&self, h: u32) -> Result<&(T, u32), HandleError> {
        usize::try_from(h)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
            .ok_or(HandleError::BadHandle)
    }

    /// Returns the slot of `h` mutably if it is open.
    fn slot_mut(&mut self, h: u32) -> Result<&mut Option<(T, u32)>, HandleError> {
        usize::try_from(h)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .filter(|slot| slot.is_some())
            .ok_or(HandleError::BadHandle)
    }

    /// Returns the lowest free slot as a handle.
    fn free_slot(&self) -> Result<usize, HandleError> {
        self.slots
            .iter()
            .position(Option::is_none)
            .filter(|&i| u32::try_from(i).is_ok())
            .ok_or(HandleError::Full)
    }

    /// Checks that `rights` include every bit of `needed`.
    fn check(rights: u32, needed: u32) -> Result<(), HandleError> {
        if rights & needed == needed {
            Ok(())
        } else {
            Err(HandleError::MissingRights {
                have: rights,
                need: needed,
            })
        }
    }

    /// Adds `obj` with `rights` in the lowest free slot and returns its handle.
    ///
    /// On [`HandleError::Full`] the object is dropped.
    pub fn insert(&mut self, obj: T, rights: u32) -> Result<u32, HandleError> {
        let i = self.free_slot()?;
        self.slots[i] = Some((obj, rights));
        // free_slot only returns indices that fit in u32.
        Ok(i as u32)
    }

    /// Returns the object of handle `h` if the handle has every right in `needed`.
    pub fn get(&self, h: u32, needed: u32) -> Result<&T, HandleError> {
        let (obj, rights) = self.slot(h)?;
        Self::check(*rights, needed)?;
        Ok(obj)
    }

    /// Returns the object of handle `h` mutably if the handle has every right in `needed`.
    pub fn get_mut(&mut self, h: u32, needed: u32) -> Result<&mut T, HandleError> {
        let (obj, rights) = self.slot_mut(h)?.as_mut().ok_or(HandleError::BadHandle)?;
        Self::check(*rights, needed)?;
        Ok(obj)
    }

    /// Returns the rights of handle `h`.
    pub fn rights(&self, h: u32) -> Result<u32, HandleError> {
        self.slot(h).map(|&(_, rights)| rights)
    }

    /// Closes handle `h` and returns its object. Needs no right.
    pub fn remove(&mut self, h: u32) -> Result<T, HandleError> {
        let (obj, _) = self.slot_mut(h)?.take().ok_or(HandleError::BadHandle)?;
        Ok(obj)
    }

    /// Copies handle `h` into the lowest free slot with the rights `old & rights_mask`, and
    /// returns the new handle. Handle `h` must have `dup_right`.
    pub fn dup(&mut self, h: u32, rights_mask: u32, dup_right: u32) -> Result<u32, HandleError> {
        let (obj, rights) = self.slot(h)?;
        Self::check(*rights, dup_right)?;
        let copy = (obj.clone(), rights & rights_mask);
        let i = self.free_slot()?;
        self.slots[i] = Some(copy);
        Ok(i as u32)
    }

    /// Returns the open handles in ascending order as `(handle, object, rights)`.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &T, u32)> {
        self.slots
            .iter()
            .zip(0u32..)
            .filter_map(|(slot, h)| slot.as_ref().map(|(obj, rights)| (h, obj, *rights)))
    }

    /// Closes every handle and returns their objects in handle order.
    ///
    /// The table is empty once the iterator is dropped, even if it was not run to the end.
    pub fn clear(&mut self) -> Drain<'_, T> {
        Drain {
            slots: self.slots.iter_mut(),
        }
    }

    /// Returns the number of open handles.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.is_some()).count()
    }

    /// Returns whether no handle is open.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(Option::is_none)
    }

    /// Returns the most handles the table can hold.
    pub const fn capacity(&self) -> usize {
        N
    }
}

/// The objects of a table being cleared, from [`HandleTable::clear`]; empties the remaining
/// slots when dropped.
#[derive(Debug)]
pub struct Drain<'a, T> {
    /// The slots not yet emptied.
    slots: core::slice::IterMut<'a, Option<(T, u32)>>,
}

impl<T> Iterator for Drain<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.slots.find_map(|slot| slot.take()).map(|(obj, _)| obj)
    }
}

impl<T> Drop for Drain<'_, T> {
    fn drop(&mut self) {
        self.slots.by_ref().for_each(|slot| *slot = None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_abi::ipc::{MAX_HANDLES, RIGHTS_ALL, RIGHT_DUP, RIGHT_RECV, RIGHT_SEND};
    use std::rc::Rc;

    type Table = HandleTable<Rc<&'static str>, 4>;

    #[test]
    fn insert_takes_the_lowest_free_slot() {
        let mut t = Table::new();
        assert!(t.is_empty());
        assert_eq!(t.capacity(), 4);
        for (i, name) in ["a", "b", "c", "d"].into_iter().enumerate() {
            assert_eq!(t.insert(Rc::new(name), RIGHT_SEND), Ok(i as u32));
        }
        assert_eq!(t.len(), 4);
        assert_eq!(t.insert(Rc::new("e"), 0), Err(HandleError::Full));
        assert_eq!(*t.remove(2).unwrap(), "c");
        assert_eq!(*t.remove(0).unwrap(), "a");
        assert_eq!(t.len(), 2);
        assert_eq!(t.insert(Rc::new("f"), 0), Ok(0));
        assert_eq!(t.insert(Rc::new("g"), 0), Ok(2));
        assert_eq!(t.insert(Rc::new("h"), 0), Err(HandleError::Full));
    }

    #[test]
    fn get_checks_handle_and_rights() {
        let mut t = Table::new();
        let h = t.insert(Rc::new("ep"), RIGHT_SEND | RIGHT_DUP).unwrap();
        assert_eq!(**t.get(h, RIGHT_SEND).unwrap(), "ep");
        assert_eq!(**t.get(h, 0).unwrap(), "ep");
        assert_eq!(**t.get(h, RIGHT_SEND | RIGHT_DUP).unwrap(), "ep");
        let e = t.get(h, RIGHT_SEND | RIGHT_RECV).unwrap_err();
        assert_eq!(
            e,
            HandleError::MissingRights {
                have: RIGHT_SEND | RIGHT_DUP,
                need: RIGHT_SEND | RIGHT_RECV
            }
        );
        assert_eq!(
            e.to_string(),
            "handle lacks rights 0x2: it has 0x11, the operation needs 0x3"
        );
        for bad in [1, 3, 4, 1000, u32::MAX] {
            assert_eq!(t.get(bad, 0), Err(HandleError::BadHandle));
            assert_eq!(t.rights(bad), Err(HandleError::BadHandle));
            assert_eq!(t.remove(bad), Err(HandleError::BadHandle));
            assert_eq!(
                t.dup(bad, RIGHTS_ALL, RIGHT_DUP),
                Err(HandleError::BadHandle)
            );
        }
        assert_eq!(t.rights(h), Ok(RIGHT_SEND | RIGHT_DUP));
        *t.get_mut(h, RIGHT_SEND).unwrap() = Rc::new("other");
        assert_eq!(**t.get(h, 0).unwrap(), "other");
        assert!(matches!(
            t.get_mut(h, RIGHT_RECV),
            Err(HandleError::MissingRights { .. })
        ));
        assert_eq!(t.get_mut(7, 0), Err(HandleError::BadHandle));
    }

    #[test]
    fn remove_closes() {
        let mut t = Table::new();
        let h = t.insert(Rc::new("x"), RIGHTS_ALL).unwrap();
        assert_eq!(*t.remove(h).unwrap(), "x");
        assert_eq!(t.remove(h), Err(HandleError::BadHandle));
        assert_eq!(t.get(h, 0), Err(HandleError::BadHandle));
        assert!(t.is_empty());
    }

    #[test]
    fn dup_masks_rights_and_shares_the_object() {
        let mut t = Table::new();
        let obj = Rc::new("ep");
        let h = t
            .insert(obj.clone(), RIGHT_SEND | RIGHT_RECV | RIGHT_DUP)
            .unwrap();
        let d = t.dup(h, RIGHT_SEND, RIGHT_DUP).unwrap();
        assert_eq!(d, 1);
        assert_eq!(t.rights(d), Ok(RIGHT_SEND));
        assert_eq!(t.rights(h), Ok(RIGHT_SEND | RIGHT_RECV | RIGHT_DUP));
        assert!(Rc::ptr_eq(t.get(d, RIGHT_SEND).unwrap(), &obj));
        assert_eq!(Rc::strong_count(&obj), 3);
        // A mask cannot add rights the original lacks.
        let d2 = t.dup(h, RIGHTS_ALL, RIGHT_DUP).unwrap();
        assert_eq!(t.rights(d2), Ok(RIGHT_SEND | RIGHT_RECV | RIGHT_DUP));
        // The copy without RIGHT_DUP cannot be copied again.
        assert_eq!(
            t.dup(d, RIGHTS_ALL, RIGHT_DUP),
            Err(HandleError::MissingRights {
                have: RIGHT_SEND,
                need: RIGHT_DUP
            })
        );
        t.dup(h, 0, RIGHT_DUP).unwrap();
        assert_eq!(t.dup(h, 0, RIGHT_DUP), Err(HandleError::Full));
        assert_eq!(Rc::strong_count(&obj), 5);
    }

    #[test]
    fn iter_lists_open_handles_in_order() {
        let mut t = Table::new();
        for name in ["a", "b", "c"] {
            t.insert(Rc::new(name), name.len() as u32).unwrap();
        }
        t.remove(1).unwrap();
        let listed: Vec<_> = t.iter().map(|(h, o, r)| (h, **o, r)).collect();
        assert_eq!(listed, [(0, "a", 1), (2, "c", 1)]);
    }

    #[test]
    fn clear_drains_everything() {
        let obj = Rc::new("shared");
        let mut t = Table::new();
        for _ in 0..3 {
            t.insert(obj.clone(), 0).unwrap();
        }
        t.remove(1).unwrap();
        let drained: Vec<_> = t.clear().collect();
        assert_eq!(drained.len(), 2);
        assert!(t.is_empty());
        drop(drained);
        assert_eq!(Rc::strong_count(&obj), 1);

        // Dropping the iterator early still empties the table and drops the objects.
        for _ in 0..4 {
            t.insert(obj.clone(), 0).unwrap();
        }
        let mut drain = t.clear();
        assert!(drain.next().is_some());
        drop(drain);
        assert!(t.is_empty());
        assert_eq!(t.len(), 0);
        assert_eq!(Rc::strong_count(&obj), 1);
        assert_eq!(t.insert(obj.clone(), 0), Ok(0));
    }

    #[test]
    fn a_full_size_table_in_a_const() {
        static EMPTY: HandleTable<u64, MAX_HANDLES> = HandleTable::new();
        assert_eq!(EMPTY.len(), 0);
        let mut t: HandleTable<u64, MAX_HANDLES> = HandleTable::default();
        for i in 0..MAX_HANDLES as u64 {
            assert_eq!(t.insert(i * 10, RIGHTS_ALL), Ok(i as u32));
        }
        assert_eq!(t.insert(0, 0), Err(HandleError::Full));
        assert_eq!(*t.get(63, RIGHT_DUP).unwrap(), 630);
    }

    #[test]
    fn zero_capacity() {
        let mut t: HandleTable<u8, 0> = HandleTable::new();
        assert_eq!(t.insert(1, 0), Err(HandleError::Full));
        assert_eq!(t.get(0, 0), Err(HandleError::BadHandle));
        assert_eq!(t.clear().count(), 0);
    }

    #[test]
    fn messages() {
        assert_eq!(
            HandleError::BadHandle.to_string(),
            "no such handle: it was never opened or is closed"
        );
        assert_eq!(
            HandleError::Full.to_string(),
            "handle table full: close a handle first"
        );
    }
}
