fn main() {
    std::process::exit(scantoken::cli::main() as i32);
}
