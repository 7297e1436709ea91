//! The Lambda binary is linked position-dependent (`-no-pie`) on Linux: the loader then has no
//! relocations to apply to it at start-up, and the pages they would write stay shared with the
//! file. Part of the init budget; see "Start-up" in docs/development.md.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
