//! The scantoken binary: all of it is the library (`cli::main`); this only exits with its code.

fn main() {
    std::process::exit(scantoken::cli::main());
}
