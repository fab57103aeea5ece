//! The SD card image: the kernel and device tree taken back out of its FAT partition boot on raspi4b.

use keel_tests::scenario;

#[test]
fn the_files_on_the_sd_image_boot() {
    scenario::sd_image_boots();
}
