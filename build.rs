//! The release binary's functions that a server runs are linked side by side
//! (link/symbol-order.txt, made by scripts/symbol-order.sh): the kernel maps an
//! executable's code a whole page-cache folio at a time, so ~2.7 MB of run code spread
//! over 28 MB kept 16 MB of it resident at idle (5.5 MB linked together).

fn main() {
    let order = std::path::Path::new("link/symbol-order.txt");
    println!("cargo:rerun-if-changed={}", order.display());
    let target = std::env::var("TARGET").unwrap_or_default();
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    // rust-lld is this target's default linker; another linker may not know the flag.
    if release && target == "x86_64-unknown-linux-gnu" && order.exists() {
        let path = std::fs::canonicalize(order).expect("link/symbol-order.txt resolves");
        println!(
            "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
            path.display()
        );
        println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
    }
}
