//! In-kernel tests of the module subsystem (test kernels only).
