//! `stalltrace fleet` runs the program `stalltrace-fleet` beside it or on
//! the PATH; without it, it says how to install it and exits with 2.

mod common;

#[test]
fn fleet_without_its_program_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let alone = dir.path().join("stalltrace");
    std::fs::copy(common::bin(), &alone).unwrap();
    let out = std::process::Command::new(&alone)
        .args(["fleet", "reports/"])
        .env("PATH", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cargo install --path crates/fleet"), "{err}");
}
