//! Path resolution and the mount table: [`Vfs`].
//!
//! A path is walked one component at a time from the root (absolute paths) or from the working
//! directory (relative ones). The walk keeps the stack of directories it went through, so `..`
//! returns to the directory it came from, across mount points, and never above `/`. The working
//! directory is a canonical absolute path (what [`Resolved::path`] gives and `getcwd` reports),
//! walked again on every relative lookup; no symbolic links are followed.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use keel_abi::types::{FileKind, Stat, NAME_MAX, PATH_MAX};
use keel_abi::Errno;

use crate::node::Node;

/// A node found by path, with its canonical absolute path (`/`, `/tmp/a`).
#[derive(Clone, Debug)]
pub struct Resolved {
    /// The node (the mounted file system's root for a mount point).
    pub node: Arc<dyn Node>,
    /// Canonical absolute path: no `.`, `..` or repeated slashes, no trailing slash.
    pub path: String,
}

/// Where a new entry goes: the directory, and the last component of the path.
#[derive(Clone, Debug)]
pub struct Parent {
    /// The directory that holds (or will hold) the entry.
    pub dir: Arc<dyn Node>,
    /// Canonical absolute path of `dir`.
    pub dir_path: String,
    /// The entry's name: never empty, `.` or `..`, at most [`NAME_MAX`] bytes.
    pub name: String,
    /// The path ended with `/`, so the entry must be (or become) a directory.
    pub trailing_slash: bool,
}

impl Parent {
    /// Canonical absolute path of the entry.
    pub fn path(&self) -> String {
        join(&self.dir_path, &self.name)
    }
}

struct Mount {
    path: String,
    root: Arc<dyn Node>,
}

/// The file-system namespace: a root directory and the file systems mounted on directories
/// below it.
pub struct Vfs {
    root: Arc<dyn Node>,
    mounts: spin::RwLock<Vec<Mount>>,
}

impl Vfs {
    /// A namespace whose `/` is `root` (`ENOTDIR` unless it is a directory).
    pub fn new(root: Arc<dyn Node>) -> Result<Vfs, Errno> {
        if root.kind() != FileKind::Dir {
            return Err(Errno::ENOTDIR);
        }
        Ok(Vfs {
            root,
            mounts: spin::RwLock::new(Vec::new()),
        })
    }

    /// The root directory.
    pub fn root(&self) -> Arc<dyn Node> {
        self.root.clone()
    }

    /// Mounts the directory `fs_root` on the existing directory `path` (resolved from `/`).
    ///
    /// Errors: those of [`Vfs::resolve`]; `ENOTDIR` if `path` or `fs_root` is not a directory;
    /// `EBUSY` for `/` or a path that already has a mount.
    pub fn mount(&self, path: &str, fs_root: Arc<dyn Node>) -> Result<(), Errno> {
        if fs_root.kind() != FileKind::Dir {
            return Err(Errno::ENOTDIR);
        }
        let at = self.resolve("/", path)?;
        if at.node.kind() != FileKind::Dir {
            return Err(Errno::ENOTDIR);
        }
        let mut mounts = self.mounts.write();
        if at.path == "/" || mounts.iter().any(|m| m.path == at.path) {
            return Err(Errno::EBUSY);
        }
        mounts.push(Mount {
            path: at.path,
            root: fs_root,
        });
        Ok(())
    }

    /// Removes the mount on `path` and returns the file system's root.
    ///
    /// Errors: `EINVAL` if nothing is mounted there; `EBUSY` if something is mounted below it.
    pub fn unmount(&self, path: &str) -> Result<Arc<dyn Node>, Errno> {
        let at = self.resolve("/", path)?;
        let mut mounts = self.mounts.write();
        let index = mounts
            .iter()
            .position(|m| m.path == at.path)
            .ok_or(Errno::EINVAL)?;
        let below = at.path.clone() + "/";
        if mounts.iter().any(|m| m.path.starts_with(&below)) {
            return Err(Errno::EBUSY);
        }
        Ok(mounts.remove(index).root)
    }

    /// The canonical paths that have a file system mounted on them, in mount order.
    pub fn mount_points(&self) -> Vec<String> {
        self.mounts.read().iter().map(|m| m.path.clone()).collect()
    }

    /// Finds the node `path` names; a relative `path` starts at `cwd` (a canonical absolute
    /// path such as a previous [`Resolved::path`]).
    ///
    /// Errors: `ENOENT` for an empty path or a missing component; `ENOTDIR` when a component
    /// that must be a directory (one followed by `/`, `.` or `..`, or a trailing slash) is
    /// not; `ENAMETOOLONG` for a component over [`NAME_MAX`] bytes or a path (given or
    /// canonical) over [`PATH_MAX`]; `EINVAL` for a NUL byte; any error of [`Node::lookup`].
    pub fn resolve(&self, cwd: &str, path: &str) -> Result<Resolved, Errno> {
        check_path(path)?;
        let mounts = self.mounts.read();
        let mut walk = Walk {
            stack: Vec::new(),
            path: String::new(),
        };
        walk.stack.push((0, self.root.clone()));
        if !path.starts_with('/') {
            check_path(cwd)?;
            for component in cwd.split('/') {
                walk.step(&mounts, component)?;
            }
        }
        for component in path.split('/') {
            walk.step(&mounts, component)?;
        }
        Ok(walk.finish())
    }

    /// Like [`Vfs::resolve`], but `ENOTDIR` unless the node is a directory (`chdir`).
    pub fn resolve_dir(&self, cwd: &str, path: &str) -> Result<Resolved, Errno> {
        let found = self.resolve(cwd, path)?;
        if found.node.kind() != FileKind::Dir {
            return Err(Errno::ENOTDIR);
        }
        Ok(found)
    }

    /// Splits `path` into its directory (resolved, must exist) and last name, for create,
    /// mkdir and unlink. Trailing slashes are dropped and reported in
    /// [`Parent::trailing_slash`].
    ///
    /// Errors: those of [`Vfs::resolve`] for the directory; `EBUSY` for `/` (no last name);
    /// `EINVAL` when the last name is `.` or `..`.
    pub fn resolve_parent(&self, cwd: &str, path: &str) -> Result<Parent, Errno> {
        check_path(path)?;
        let trimmed = path.trim_end_matches('/');
        let trailing_slash = trimmed.len() != path.len();
        if trimmed.is_empty() {
            return Err(Errno::EBUSY);
        }
        let (dir_part, name) = match trimmed.rfind('/') {
            Some(i) => (&trimmed[..=i], &trimmed[i + 1..]),
            None => (".", trimmed),
        };
        if name.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if name == "." || name == ".." {
            return Err(Errno::EINVAL);
        }
        let dir = self.resolve_dir(cwd, dir_part)?;
        let parent = Parent {
            dir: dir.node,
            dir_path: dir.path,
            name: String::from(name),
            trailing_slash,
        };
        if parent.dir_path.len() + 1 + name.len() > PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        Ok(parent)
    }

    /// Describes the node `path` names.
    pub fn stat(&self, cwd: &str, path: &str) -> Result<Stat, Errno> {
        Ok(self.resolve(cwd, path)?.node.stat())
    }

    /// Creates `path` as a new `kind` with permission bits `mode`.
    ///
    /// Errors: those of [`Vfs::resolve_parent`] and [`Node::create`] (`EEXIST` if it exists);
    /// `EISDIR` for a trailing slash on anything but a directory.
    pub fn create(
        &self,
        cwd: &str,
        path: &str,
        kind: FileKind,
        mode: u32,
    ) -> Result<Resolved, Errno> {
        let parent = match self.resolve_parent(cwd, path) {
            // `/`, `x/.`, `x/..` always exist.
            Err(Errno::EBUSY) | Err(Errno::EINVAL) if self.resolve(cwd, path).is_ok() => {
                return Err(Errno::EEXIST)
            }
            other => other?,
        };
        // An existing name is `EEXIST` even where creating would be refused (a read-only
        // directory, a mount point).
        if parent.dir.lookup(&parent.name).is_ok() {
            return Err(Errno::EEXIST);
        }
        if parent.trailing_slash && kind != FileKind::Dir {
            return Err(Errno::EISDIR);
        }
        let node = parent.dir.create(&parent.name, kind, mode)?;
        Ok(Resolved {
            node,
            path: parent.path(),
        })
    }

    /// Creates the directory `path` (`mkdir`).
    pub fn mkdir(&self, cwd: &str, path: &str, mode: u32) -> Result<(), Errno> {
        self.create(cwd, path, FileKind::Dir, mode).map(|_| ())
    }

    /// Removes the file or empty directory `path` (`unlink`).
    ///
    /// Errors: those of [`Vfs::resolve_parent`] and [`Node::unlink`] (`ENOENT`, `ENOTEMPTY`,
    /// `EROFS`...); `EBUSY` for a mount point; `ENOTDIR` for a trailing slash on a non-directory.
    pub fn unlink(&self, cwd: &str, path: &str) -> Result<(), Errno> {
        let parent = self.resolve_parent(cwd, path)?;
        let full = parent.path();
        if self.mounts.read().iter().any(|m| m.path == full) {
            return Err(Errno::EBUSY);
        }
        if parent.trailing_slash && parent.dir.lookup(&parent.name)?.kind() != FileKind::Dir {
            return Err(Errno::ENOTDIR);
        }
        parent.dir.unlink(&parent.name)
    }
}

/// `ENOENT` for an empty path, `ENAMETOOLONG` past [`PATH_MAX`], `EINVAL` for a NUL byte.
fn check_path(path: &str) -> Result<(), Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() > PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    if path.contains('\0') {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// `dir/name` for a canonical `dir`.
fn join(dir: &str, name: &str) -> String {
    let mut out = String::with_capacity(dir.len() + 1 + name.len());
    if dir != "/" {
        out.push_str(dir);
    }
    out.push('/');
    out.push_str(name);
    out
}

/// The state of one walk: the directories entered (with the canonical path's length before
/// each), and the canonical path so far (empty for `/`).
struct Walk {
    stack: Vec<(usize, Arc<dyn Node>)>,
    path: String,
}

impl Walk {
    fn current(&self) -> &Arc<dyn Node> {
        // The stack always holds the root: `..` never pops it.
        &self.stack[self.stack.len() - 1].1
    }

    fn step(&mut self, mounts: &[Mount], component: &str) -> Result<(), Errno> {
        if self.current().kind() != FileKind::Dir {
            return Err(Errno::ENOTDIR);
        }
        match component {
            "" | "." => {}
            ".." => {
                if self.stack.len() > 1 {
                    if let Some((len, _)) = self.stack.pop() {
                        self.path.truncate(len);
                    }
                }
            }
            name => {
                if name.len() > NAME_MAX {
                    return Err(Errno::ENAMETOOLONG);
                }
                let mut child = self.current().lookup(name)?;
                let before = self.path.len();
                if before + 1 + name.len() > PATH_MAX {
                    return Err(Errno::ENAMETOOLONG);
                }
                self.path.push('/');
                self.path.push_str(name);
                if let Some(m) = mounts.iter().find(|m| m.path == self.path) {
                    child = m.root.clone();
                }
                self.stack.push((before, child));
            }
        }
        Ok(())
    }

    fn finish(mut self) -> Resolved {
        let node = self.current().clone();
        if self.path.is_empty() {
            self.path.push('/');
        }
        Resolved {
            node,
            path: self.path,
        }
    }
}
